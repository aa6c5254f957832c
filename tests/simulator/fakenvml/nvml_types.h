/*
 * NVML types, constants and struct layouts used by the fake libnvidia-ml.so.1.
 *
 * Own transcription of /work/shared/reference/nvml.md sections 3 and 4 (which were
 * checked against nvml.h of NVIDIA/go-nvml 2f9e261 and pynvml 13.615.71).  Only the
 * subset the simulator implements is declared.  Sizes are asserted at compile time.
 */
#ifndef FAKENVML_NVML_TYPES_H
#define FAKENVML_NVML_TYPES_H

#include <stddef.h>

typedef int nvmlReturn_t;

#define NVML_SUCCESS                         0
#define NVML_ERROR_UNINITIALIZED             1
#define NVML_ERROR_INVALID_ARGUMENT          2
#define NVML_ERROR_NOT_SUPPORTED             3
#define NVML_ERROR_NO_PERMISSION             4
#define NVML_ERROR_ALREADY_INITIALIZED       5
#define NVML_ERROR_NOT_FOUND                 6
#define NVML_ERROR_INSUFFICIENT_SIZE         7
#define NVML_ERROR_INSUFFICIENT_POWER        8
#define NVML_ERROR_DRIVER_NOT_LOADED         9
#define NVML_ERROR_TIMEOUT                  10
#define NVML_ERROR_IRQ_ISSUE                11
#define NVML_ERROR_LIBRARY_NOT_FOUND        12
#define NVML_ERROR_FUNCTION_NOT_FOUND       13
#define NVML_ERROR_CORRUPTED_INFOROM        14
#define NVML_ERROR_GPU_IS_LOST              15
#define NVML_ERROR_RESET_REQUIRED           16
#define NVML_ERROR_OPERATING_SYSTEM         17
#define NVML_ERROR_LIB_RM_VERSION_MISMATCH  18
#define NVML_ERROR_IN_USE                   19
#define NVML_ERROR_MEMORY                   20
#define NVML_ERROR_NO_DATA                  21
#define NVML_ERROR_VGPU_ECC_NOT_SUPPORTED   22
#define NVML_ERROR_INSUFFICIENT_RESOURCES   23
#define NVML_ERROR_FREQ_NOT_SUPPORTED       24
#define NVML_ERROR_ARGUMENT_VERSION_MISMATCH 25
#define NVML_ERROR_DEPRECATED               26
#define NVML_ERROR_NOT_READY                27
#define NVML_ERROR_GPU_NOT_FOUND            28
#define NVML_ERROR_INVALID_STATE            29
#define NVML_ERROR_RESET_TYPE_NOT_SUPPORTED 30
#define NVML_ERROR_UNKNOWN                 999

#define NVML_INIT_FLAG_NO_GPUS    1
#define NVML_INIT_FLAG_NO_ATTACH  2
#define NVML_INIT_FLAG_FORCE_INIT 4

#define NVML_DEVICE_MIG_DISABLE 0
#define NVML_DEVICE_MIG_ENABLE  1
#define NVML_INSTANCE_ID_INVALID 0xFFFFFFFFu

/* GPU-instance profile enum: COUNT is 0x12 in pynvml 13.615 / nvml.h API 13 (nvml.md §4.2). */
#define NVML_GPU_INSTANCE_PROFILE_COUNT 0x12
/* Compute-instance profile enum: COUNT is 0x9 in pynvml 13.615 (nvml.md §4.2). */
#define NVML_COMPUTE_INSTANCE_PROFILE_COUNT 0x9
#define NVML_COMPUTE_INSTANCE_ENGINE_PROFILE_COUNT 0x1

#define NVML_GPU_INSTANCE_PROFILE_CAPS_P2P 0x1
#define NVML_GPU_INSTANCE_PROFILE_CAPS_GFX 0x2

typedef struct nvmlDevice_st *nvmlDevice_t;
typedef struct nvmlGpuInstance_st *nvmlGpuInstance_t;
typedef struct nvmlComputeInstance_st *nvmlComputeInstance_t;
typedef unsigned int nvmlDeviceArchitecture_t;

typedef struct {
    char busIdLegacy[16];
    unsigned int domain;
    unsigned int bus;
    unsigned int device;
    unsigned int pciDeviceId;
    unsigned int pciSubSystemId;
    char busId[32];
} nvmlPciInfo_t;

typedef struct {
    unsigned long long total;
    unsigned long long free;
    unsigned long long used;
} nvmlMemory_t;

typedef struct {
    unsigned int version;
    unsigned long long total;
    unsigned long long reserved;
    unsigned long long free;
    unsigned long long used;
} nvmlMemory_v2_t;
#define nvmlMemory_v2 0x02000028u

typedef struct {
    unsigned int pid;
    unsigned long long usedGpuMemory;
} nvmlProcessInfo_v1_t;

typedef struct {
    unsigned int pid;
    unsigned long long usedGpuMemory;
    unsigned int gpuInstanceId;
    unsigned int computeInstanceId;
} nvmlProcessInfo_t;

typedef struct {
    unsigned int start;
    unsigned int size;
} nvmlGpuInstancePlacement_t;

typedef struct {
    unsigned int id;
    unsigned int isP2pSupported;
    unsigned int sliceCount;
    unsigned int instanceCount;
    unsigned int multiprocessorCount;
    unsigned int copyEngineCount;
    unsigned int decoderCount;
    unsigned int encoderCount;
    unsigned int jpegCount;
    unsigned int ofaCount;
    unsigned long long memorySizeMB;
} nvmlGpuInstanceProfileInfo_t;

typedef struct {
    unsigned int version;
    unsigned int id;
    unsigned int isP2pSupported;
    unsigned int sliceCount;
    unsigned int instanceCount;
    unsigned int multiprocessorCount;
    unsigned int copyEngineCount;
    unsigned int decoderCount;
    unsigned int encoderCount;
    unsigned int jpegCount;
    unsigned int ofaCount;
    unsigned long long memorySizeMB;
    char name[96];
} nvmlGpuInstanceProfileInfo_v2_t;
#define nvmlGpuInstanceProfileInfo_v2 0x02000098u

typedef struct {
    unsigned int version;
    unsigned int id;
    unsigned int sliceCount;
    unsigned int instanceCount;
    unsigned int multiprocessorCount;
    unsigned int copyEngineCount;
    unsigned int decoderCount;
    unsigned int encoderCount;
    unsigned int jpegCount;
    unsigned int ofaCount;
    unsigned long long memorySizeMB;
    char name[96];
    unsigned int capabilities;
} nvmlGpuInstanceProfileInfo_v3_t;
#define nvmlGpuInstanceProfileInfo_v3 0x03000098u

typedef struct {
    nvmlDevice_t device;
    unsigned int id;
    unsigned int profileId;
    nvmlGpuInstancePlacement_t placement;
} nvmlGpuInstanceInfo_t;

typedef struct {
    unsigned int start;
    unsigned int size;
} nvmlComputeInstancePlacement_t;

typedef struct {
    unsigned int id;
    unsigned int sliceCount;
    unsigned int instanceCount;
    unsigned int multiprocessorCount;
    unsigned int sharedCopyEngineCount;
    unsigned int sharedDecoderCount;
    unsigned int sharedEncoderCount;
    unsigned int sharedJpegCount;
    unsigned int sharedOfaCount;
} nvmlComputeInstanceProfileInfo_t;

typedef struct {
    unsigned int version;
    unsigned int id;
    unsigned int sliceCount;
    unsigned int instanceCount;
    unsigned int multiprocessorCount;
    unsigned int sharedCopyEngineCount;
    unsigned int sharedDecoderCount;
    unsigned int sharedEncoderCount;
    unsigned int sharedJpegCount;
    unsigned int sharedOfaCount;
    char name[96];
} nvmlComputeInstanceProfileInfo_v2_t;
#define nvmlComputeInstanceProfileInfo_v2 0x02000088u

typedef struct {
    unsigned int version;
    unsigned int id;
    unsigned int sliceCount;
    unsigned int instanceCount;
    unsigned int multiprocessorCount;
    unsigned int sharedCopyEngineCount;
    unsigned int sharedDecoderCount;
    unsigned int sharedEncoderCount;
    unsigned int sharedJpegCount;
    unsigned int sharedOfaCount;
    char name[96];
    unsigned int capabilities;
} nvmlComputeInstanceProfileInfo_v3_t;
#define nvmlComputeInstanceProfileInfo_v3 0x0300008Cu

typedef struct {
    nvmlDevice_t device;
    nvmlGpuInstance_t gpuInstance;
    unsigned int id;
    unsigned int profileId;
    nvmlComputeInstancePlacement_t placement;
} nvmlComputeInstanceInfo_t;

/* nvmlDeviceGetAttributes_v2 (nvml.h maps the plain name to _v2). */
typedef struct {
    unsigned int multiprocessorCount;
    unsigned int sharedCopyEngineCount;
    unsigned int sharedDecoderCount;
    unsigned int sharedEncoderCount;
    unsigned int sharedJpegCount;
    unsigned int sharedOfaCount;
    unsigned int gpuInstanceSliceCount;
    unsigned int computeInstanceSliceCount;
    unsigned long long memorySizeMB;
} nvmlDeviceAttributes_t;

/* GPU fabric (NVLink / NVSwitch registration) information. */
#define NVML_GPU_FABRIC_UUID_LEN 16
#define NVML_GPU_FABRIC_STATE_NOT_SUPPORTED 0
#define NVML_GPU_FABRIC_STATE_NOT_STARTED   1
#define NVML_GPU_FABRIC_STATE_IN_PROGRESS   2
#define NVML_GPU_FABRIC_STATE_COMPLETED     3
#define NVML_GPU_FABRIC_HEALTH_SUMMARY_NOT_SUPPORTED 0
typedef unsigned char nvmlGpuFabricState_t;

typedef struct {
    unsigned char clusterUuid[NVML_GPU_FABRIC_UUID_LEN];
    nvmlReturn_t status;
    unsigned int cliqueId;
    nvmlGpuFabricState_t state;
} nvmlGpuFabricInfo_t;

typedef struct {
    unsigned int version;
    unsigned char clusterUuid[NVML_GPU_FABRIC_UUID_LEN];
    nvmlReturn_t status;
    unsigned int cliqueId;
    nvmlGpuFabricState_t state;
    unsigned int healthMask;
} nvmlGpuFabricInfo_v2_t;
#define nvmlGpuFabricInfo_v2 0x02000024u

typedef struct {
    unsigned int version;
    unsigned char clusterUuid[NVML_GPU_FABRIC_UUID_LEN];
    nvmlReturn_t status;
    unsigned int cliqueId;
    nvmlGpuFabricState_t state;
    unsigned int healthMask;
    unsigned char healthSummary;
} nvmlGpuFabricInfo_v3_t;
typedef nvmlGpuFabricInfo_v3_t nvmlGpuFabricInfoV_t;
#define nvmlGpuFabricInfo_v3 0x03000028u

/* nvmlDeviceGetAddressingMode */
#define NVML_DEVICE_ADDRESSING_MODE_NONE 0
#define NVML_DEVICE_ADDRESSING_MODE_HMM  1
#define NVML_DEVICE_ADDRESSING_MODE_ATS  2
typedef struct {
    unsigned int version;
    unsigned int value;
} nvmlDeviceAddressingMode_t;
#define nvmlDeviceAddressingMode_v1 0x01000008u

/* Events (nvmlEventSet*, nvmlDeviceRegisterEvents). */
typedef struct nvmlEventSet_st *nvmlEventSet_t;
#define nvmlEventTypeSingleBitEccError 0x0000000000000001ULL
#define nvmlEventTypeDoubleBitEccError 0x0000000000000002ULL
#define nvmlEventTypePState            0x0000000000000004ULL
#define nvmlEventTypeXidCriticalError  0x0000000000000008ULL
#define nvmlEventTypeClock             0x0000000000000010ULL
typedef struct {
    nvmlDevice_t device;
    unsigned long long eventType;
    unsigned long long eventData;
    unsigned int gpuInstanceId;
    unsigned int computeInstanceId;
} nvmlEventData_t;

/* Layout checks against nvml.md §3 (x86-64). */
_Static_assert(sizeof(nvmlPciInfo_t) == 68, "nvmlPciInfo_t");
_Static_assert(offsetof(nvmlPciInfo_t, busId) == 36, "nvmlPciInfo_t.busId");
_Static_assert(sizeof(nvmlMemory_t) == 24, "nvmlMemory_t");
_Static_assert(sizeof(nvmlMemory_v2_t) == 40, "nvmlMemory_v2_t");
_Static_assert(sizeof(nvmlProcessInfo_v1_t) == 16, "nvmlProcessInfo_v1_t");
_Static_assert(sizeof(nvmlProcessInfo_t) == 24, "nvmlProcessInfo_t");
_Static_assert(sizeof(nvmlGpuInstanceProfileInfo_t) == 48, "GI profile v1");
_Static_assert(sizeof(nvmlGpuInstanceProfileInfo_v2_t) == 152, "GI profile v2");
_Static_assert(offsetof(nvmlGpuInstanceProfileInfo_v2_t, memorySizeMB) == 48, "GI v2 mem");
_Static_assert(offsetof(nvmlGpuInstanceProfileInfo_v2_t, name) == 56, "GI v2 name");
_Static_assert(sizeof(nvmlGpuInstanceProfileInfo_v3_t) == 152, "GI profile v3");
_Static_assert(offsetof(nvmlGpuInstanceProfileInfo_v3_t, memorySizeMB) == 40, "GI v3 mem");
_Static_assert(offsetof(nvmlGpuInstanceProfileInfo_v3_t, name) == 48, "GI v3 name");
_Static_assert(offsetof(nvmlGpuInstanceProfileInfo_v3_t, capabilities) == 144, "GI v3 caps");
_Static_assert(sizeof(nvmlGpuInstanceInfo_t) == 24, "GI info");
_Static_assert(sizeof(nvmlComputeInstanceProfileInfo_t) == 36, "CI profile v1");
_Static_assert(sizeof(nvmlComputeInstanceProfileInfo_v2_t) == 136, "CI profile v2");
_Static_assert(sizeof(nvmlComputeInstanceProfileInfo_v3_t) == 140, "CI profile v3");
_Static_assert(offsetof(nvmlComputeInstanceProfileInfo_v3_t, capabilities) == 136, "CI v3 caps");
_Static_assert(sizeof(nvmlComputeInstanceInfo_t) == 32, "CI info");

/* Layout checks against nvml.h of go-nvml as vendored in k8s-device-plugin v0.20.0 (x86-64); the
 * version words are NVML_STRUCT_VERSION(sizeof | ver << 24), so they restate the sizes. */
_Static_assert(sizeof(nvmlDeviceAttributes_t) == 40, "nvmlDeviceAttributes_t");
_Static_assert(offsetof(nvmlDeviceAttributes_t, memorySizeMB) == 32, "attributes memorySizeMB");
_Static_assert(sizeof(nvmlGpuFabricInfo_t) == 28, "nvmlGpuFabricInfo_t");
_Static_assert(offsetof(nvmlGpuFabricInfo_t, state) == 24, "fabric info state");
_Static_assert(sizeof(nvmlGpuFabricInfo_v2_t) == (nvmlGpuFabricInfo_v2 & 0xFFFFFFu), "fabric info v2");
_Static_assert(offsetof(nvmlGpuFabricInfo_v2_t, healthMask) == 32, "fabric info v2 healthMask");
_Static_assert(sizeof(nvmlGpuFabricInfo_v3_t) == (nvmlGpuFabricInfo_v3 & 0xFFFFFFu), "fabric info v3");
_Static_assert(offsetof(nvmlGpuFabricInfo_v3_t, healthSummary) == 36, "fabric info v3 healthSummary");
_Static_assert(sizeof(nvmlEventData_t) == 32, "nvmlEventData_t");
_Static_assert(sizeof(nvmlDeviceAddressingMode_t) == (nvmlDeviceAddressingMode_v1 & 0xFFFFFFu), "addressing mode v1");

#endif
