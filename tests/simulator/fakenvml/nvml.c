/*
 * The NVML API of the fake libnvidia-ml.so.1.
 *
 * Every call: checks that the library is initialised, takes an exclusive flock on
 * "<state>.lock", loads the state file, applies fault rules, does its work on the
 * loaded state, writes the state back if it changed, appends one line to
 * "<state>.calls" and releases the lock.  The node state therefore outlives processes
 * and is shared by all processes that point FAKE_NVML_STATE at the same file.
 *
 * Semantics follow /work/shared/reference/nvml.md §5; places where the reference
 * marks a behaviour as inferred or unverified are marked [inferred] / [unverified].
 */
#define _GNU_SOURCE
#include "internal.h"

#include <ctype.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* ======================================================================== */
/* Handles: stable pointers into static tables                              */
/* ======================================================================== */

struct nvmlDevice_st { int gpu, gi, ci, mig; };
struct nvmlGpuInstance_st { int gpu, gi; };
struct nvmlComputeInstance_st { int gpu, gi, ci; };

static struct nvmlDevice_st H_dev[MAX_GPUS];
static struct nvmlDevice_st H_mig[MAX_GPUS][MAX_GI][MAX_CI];
static struct nvmlGpuInstance_st H_gi[MAX_GPUS][MAX_GI];
static struct nvmlComputeInstance_st H_ci[MAX_GPUS][MAX_GI][MAX_CI];

__attribute__((constructor)) static void handles_init(void)
{
    int g, gi, ci;
    for (g = 0; g < MAX_GPUS; g++) {
        H_dev[g].gpu = g;
        H_dev[g].gi = H_dev[g].ci = -1;
        H_dev[g].mig = 0;
        for (gi = 0; gi < MAX_GI; gi++) {
            H_gi[g][gi].gpu = g;
            H_gi[g][gi].gi = gi;
            for (ci = 0; ci < MAX_CI; ci++) {
                struct nvmlDevice_st *m = &H_mig[g][gi][ci];
                m->gpu = g;
                m->gi = gi;
                m->ci = ci;
                m->mig = 1;
                H_ci[g][gi][ci].gpu = g;
                H_ci[g][gi][ci].gi = gi;
                H_ci[g][gi][ci].ci = ci;
            }
        }
    }
}

#define IN_TABLE(p, tbl) \
    ((uintptr_t)(p) >= (uintptr_t)(tbl) && (uintptr_t)(p) < (uintptr_t)(tbl) + sizeof(tbl) && \
     ((uintptr_t)(p) - (uintptr_t)(tbl)) % sizeof(*(p)) == 0)

static const struct nvmlDevice_st *dev_ptr(nvmlDevice_t d)
{
    if (d && (IN_TABLE(d, H_dev) || IN_TABLE(d, H_mig)))
        return d;
    return NULL;
}

static const struct nvmlGpuInstance_st *gi_ptr(nvmlGpuInstance_t h)
{
    return (h && IN_TABLE(h, H_gi)) ? h : NULL;
}

static const struct nvmlComputeInstance_st *ci_ptr(nvmlComputeInstance_t h)
{
    return (h && IN_TABLE(h, H_ci)) ? h : NULL;
}

static int dev_gpu(nvmlDevice_t d) { const struct nvmlDevice_st *p = dev_ptr(d); return p ? p->gpu : -1; }
static int gih_gpu(nvmlGpuInstance_t h) { const struct nvmlGpuInstance_st *p = gi_ptr(h); return p ? p->gpu : -1; }
static int cih_gpu(nvmlComputeInstance_t h) { const struct nvmlComputeInstance_st *p = ci_ptr(h); return p ? p->gpu : -1; }

/* ======================================================================== */
/* Call wrapper                                                             */
/* ======================================================================== */

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static int g_refcount;
static char g_path[4096];
static int g_lockfd = -1;
static int g_dirty;
static const char *g_fn;
static int g_gpu;
static int g_mut;

static nvmlReturn_t end_call(nvmlReturn_t rc)
{
    if (g_dirty)
        state_save(g_path, &S);
    call_log(g_path, g_fn, g_gpu, rc, g_mut);
    state_unlock(g_lockfd);
    g_lockfd = -1;
    pthread_mutex_unlock(&g_mu);
    return rc;
}

static nvmlReturn_t begin_call(const char *fn, int gpu, int is_init)
{
    char err[512];
    int i, ferr = 0, stall = 0;

    pthread_mutex_lock(&g_mu);
    if (!is_init && g_refcount == 0) {
        pthread_mutex_unlock(&g_mu);
        return NVML_ERROR_UNINITIALIZED;
    }
    if (is_init && g_refcount == 0) {
        const char *p = getenv("FAKE_NVML_STATE");
        if (!p || !*p) {
            pthread_mutex_unlock(&g_mu);
            return NVML_ERROR_DRIVER_NOT_LOADED;
        }
        snprintf(g_path, sizeof g_path, "%s", p);
    }
    g_fn = fn;
    g_gpu = gpu;
    g_mut = 0;
    function_known(fn, &g_mut);
    g_dirty = 0;
    g_lockfd = state_lock(g_path);
    if (g_lockfd < 0) {
        pthread_mutex_unlock(&g_mu);
        return is_init ? NVML_ERROR_DRIVER_NOT_LOADED : NVML_ERROR_UNKNOWN;
    }
    if (state_load(g_path, &S, err, sizeof err) != 0) {
        /* unreadable state: like a node without a loaded kernel module */
        return end_call(is_init ? NVML_ERROR_DRIVER_NOT_LOADED : NVML_ERROR_UNKNOWN);
    }
    /* fault rules: counted across processes because the counters live in the state file */
    for (i = 0; i < S.nfault; i++) {
        fault_t *f = &S.fault[i];
        if (strcmp(f->func, fn) != 0 || (f->gpu >= 0 && f->gpu != gpu))
            continue;
        f->hits++;
        g_dirty = 1;
        if (f->hits == f->nth || (f->repeat && f->hits >= f->nth)) {
            stall += f->stall_ms;
            if (!ferr && f->error)
                ferr = f->error;
        }
    }
    if (stall > 0) {
        /* stall without holding the node lock, so other processes are not serialised */
        struct timespec ts;
        if (g_dirty)
            state_save(g_path, &S);
        g_dirty = 0;
        state_unlock(g_lockfd);
        ts.tv_sec = stall / 1000;
        ts.tv_nsec = (long)(stall % 1000) * 1000000L;
        while (nanosleep(&ts, &ts) != 0) {
        }
        g_lockfd = state_lock(g_path);
        if (g_lockfd < 0) {
            pthread_mutex_unlock(&g_mu);
            return NVML_ERROR_UNKNOWN;
        }
        if (state_load(g_path, &S, err, sizeof err) != 0)
            return end_call(NVML_ERROR_UNKNOWN);
    }
    if (ferr)
        return end_call(ferr);
    return NVML_SUCCESS;
}

#define BEGIN(fn, gpu) do { nvmlReturn_t rc_ = begin_call(fn, gpu, 0); if (rc_ != NVML_SUCCESS) return rc_; } while (0)
#define END(rc) return end_call(rc)
#define CHECK(expr) do { nvmlReturn_t c_ = (expr); if (c_ != NVML_SUCCESS) END(c_); } while (0)

/* privileged = geteuid()==0, or FAKE_NVML_EUID (the uid the fake believes) == 0 */
static int privileged(void)
{
    const char *e = getenv("FAKE_NVML_EUID");
    if (e && *e)
        return atoi(e) == 0;
    return geteuid() == 0;
}

static nvmlReturn_t put_str(char *buf, unsigned int len, const char *s)
{
    if (!buf)
        return NVML_ERROR_INVALID_ARGUMENT;
    if (strlen(s) + 1 > len)
        return NVML_ERROR_INSUFFICIENT_SIZE;
    memcpy(buf, s, strlen(s) + 1);
    return NVML_SUCCESS;
}

/* Resolves a device handle against the loaded state: 0 = physical, 1 = MIG, -1 = invalid. */
static int dev_resolve(nvmlDevice_t d, int *g, int *gi, int *ci)
{
    const struct nvmlDevice_st *p = dev_ptr(d);
    if (!p || p->gpu >= S.ngpu)
        return -1;
    *g = p->gpu;
    *gi = p->gi;
    *ci = p->ci;
    if (!p->mig)
        return 0;
    if (!S.gpu[p->gpu].mode || !S.gpu[p->gpu].gi[p->gi].used || !S.gpu[p->gpu].gi[p->gi].ci[p->ci].used)
        return -1;
    return 1;
}

/* A physical GPU handle (MIG device handles are rejected with INVALID_ARGUMENT [inferred]). */
static gpu_t *phys(nvmlDevice_t d, int *gout)
{
    int g, gi, ci;
    if (dev_resolve(d, &g, &gi, &ci) != 0)
        return NULL;
    if (gout)
        *gout = g;
    return &S.gpu[g];
}

static gi_t *gi_resolve(nvmlGpuInstance_t h, int *g, int *id)
{
    const struct nvmlGpuInstance_st *p = gi_ptr(h);
    if (!p || p->gpu >= S.ngpu || !S.gpu[p->gpu].mode || !S.gpu[p->gpu].gi[p->gi].used)
        return NULL;
    *g = p->gpu;
    *id = p->gi;
    return &S.gpu[p->gpu].gi[p->gi];
}

static ci_t *ci_resolve(nvmlComputeInstance_t h, int *g, int *gi, int *id)
{
    const struct nvmlComputeInstance_st *p = ci_ptr(h);
    if (!p || p->gpu >= S.ngpu || !S.gpu[p->gpu].mode || !S.gpu[p->gpu].gi[p->gi].used ||
        !S.gpu[p->gpu].gi[p->gi].ci[p->ci].used)
        return NULL;
    *g = p->gpu;
    *gi = p->gi;
    *id = p->ci;
    return &S.gpu[p->gpu].gi[p->gi].ci[p->ci];
}

/* ======================================================================== */
/* Init, shutdown, strings, system                                          */
/* ======================================================================== */

static nvmlReturn_t do_init(const char *fn, unsigned int flags)
{
    nvmlReturn_t rc = begin_call(fn, -1, 1);
    if (rc != NVML_SUCCESS)
        return rc;
    if (!S.loaded)
        END(NVML_ERROR_DRIVER_NOT_LOADED);
    /* no GPUs: the kernel module would not load; NO_GPUS flag allows it [inferred code] */
    if (S.ngpu == 0 && !(flags & NVML_INIT_FLAG_NO_GPUS))
        END(NVML_ERROR_DRIVER_NOT_LOADED);
    g_refcount++;
    END(NVML_SUCCESS);
}

FN_EXPORT nvmlReturn_t nvmlInitWithFlags(unsigned int flags) { return do_init("nvmlInitWithFlags", flags); }
FN_EXPORT nvmlReturn_t nvmlInit_v2(void) { return do_init("nvmlInit_v2", 0); }
FN_EXPORT nvmlReturn_t nvmlInit(void) { return do_init("nvmlInit", 0); }

FN_EXPORT nvmlReturn_t nvmlShutdown(void)
{
    /* more shutdowns than inits: UNINITIALIZED (the header contradicts itself; unverified) */
    BEGIN("nvmlShutdown", -1);
    g_refcount--;
    END(NVML_SUCCESS);
}

FN_EXPORT const char *nvmlErrorString(nvmlReturn_t result)
{
    /* texts from nvml.md §4.1; 0 and 21-30 are not confirmed against a real driver */
    switch (result) {
    case 0: return "Success";
    case 1: return "Uninitialized";
    case 2: return "Invalid Argument";
    case 3: return "Not Supported";
    case 4: return "Insufficient Permissions";
    case 5: return "Already Initialized";
    case 6: return "Not Found";
    case 7: return "Insufficient Size";
    case 8: return "Insufficient External Power";
    case 9: return "Driver Not Loaded";
    case 10: return "Timeout";
    case 11: return "Interrupt Request Issue";
    case 12: return "NVML Shared Library Not Found";
    case 13: return "Function Not Found";
    case 14: return "Corrupted infoROM";
    case 15: return "GPU is lost";
    case 16: return "GPU requires restart";
    case 17: return "The operating system has blocked the request.";
    case 18: return "RM has detected an NVML/RM version mismatch.";
    case 19: return "In use by another client";
    case 20: return "Insufficient Memory";
    case 21: return "No data";
    case 22: return "The requested vgpu operation is not available on target device, because ECC is enabled";
    case 23: return "Insufficient Resources";
    case 24: return "Ran out of critical resources, other than memory";
    case 25: return "Argument version mismatch";
    case 26: return "The requested functionality has been deprecated";
    case 27: return "The system is not ready for the request";
    case 28: return "No GPUs were found";
    case 29: return "Resource not in correct state to perform requested operation";
    case 30: return "Reset type not supported";
    default: return "Unknown Error";
    }
}

FN_EXPORT nvmlReturn_t nvmlSystemGetDriverVersion(char *version, unsigned int length)
{
    BEGIN("nvmlSystemGetDriverVersion", -1);
    END(put_str(version, length, S.driver));
}

FN_EXPORT nvmlReturn_t nvmlSystemGetNVMLVersion(char *version, unsigned int length)
{
    char buf[64];
    BEGIN("nvmlSystemGetNVMLVersion", -1);
    snprintf(buf, sizeof buf, "%d.%s", S.cuda / 1000, S.driver);
    END(put_str(version, length, buf));
}

static nvmlReturn_t cuda_version(const char *fn, int *v)
{
    BEGIN(fn, -1);
    if (!v)
        END(NVML_ERROR_INVALID_ARGUMENT);
    *v = S.cuda;
    END(NVML_SUCCESS);
}

FN_EXPORT nvmlReturn_t nvmlSystemGetCudaDriverVersion(int *v) { return cuda_version("nvmlSystemGetCudaDriverVersion", v); }
FN_EXPORT nvmlReturn_t nvmlSystemGetCudaDriverVersion_v2(int *v) { return cuda_version("nvmlSystemGetCudaDriverVersion_v2", v); }

/* ======================================================================== */
/* Enumeration and identity                                                 */
/* ======================================================================== */

static nvmlReturn_t get_count(const char *fn, unsigned int *count)
{
    BEGIN(fn, -1);
    if (!count)
        END(NVML_ERROR_INVALID_ARGUMENT);
    *count = (unsigned)S.ngpu;   /* physical GPUs only, whatever the MIG mode */
    END(NVML_SUCCESS);
}

FN_EXPORT nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *c) { return get_count("nvmlDeviceGetCount_v2", c); }
FN_EXPORT nvmlReturn_t nvmlDeviceGetCount(unsigned int *c) { return get_count("nvmlDeviceGetCount", c); }

static nvmlReturn_t by_index(const char *fn, unsigned int index, nvmlDevice_t *device)
{
    BEGIN(fn, index < MAX_GPUS ? (int)index : -1);
    if (!device || index >= (unsigned)S.ngpu)
        END(NVML_ERROR_INVALID_ARGUMENT);
    *device = &H_dev[index];
    END(NVML_SUCCESS);
}

FN_EXPORT nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int i, nvmlDevice_t *d) { return by_index("nvmlDeviceGetHandleByIndex_v2", i, d); }
FN_EXPORT nvmlReturn_t nvmlDeviceGetHandleByIndex(unsigned int i, nvmlDevice_t *d) { return by_index("nvmlDeviceGetHandleByIndex", i, d); }

FN_EXPORT nvmlReturn_t nvmlDeviceGetHandleByUUID(const char *uuid, nvmlDevice_t *device)
{
    int g, gi, ci;
    char u[64];
    BEGIN("nvmlDeviceGetHandleByUUID", -1);
    if (!uuid || !device)
        END(NVML_ERROR_INVALID_ARGUMENT);
    for (g = 0; g < S.ngpu; g++) {
        gpu_t *gp = &S.gpu[g];
        if (!strcasecmp(uuid, gp->uuid)) {
            *device = &H_dev[g];
            END(NVML_SUCCESS);
        }
        if (!gp->mode)
            continue;
        for (gi = 0; gi < MAX_GI; gi++)
            for (ci = 0; gp->gi[gi].used && ci < MAX_CI; ci++) {
                if (!gp->gi[gi].ci[ci].used)
                    continue;
                mig_uuid(gp, gi, ci, u, sizeof u);
                if (!strcasecmp(uuid, u)) {
                    *device = &H_mig[g][gi][ci];
                    END(NVML_SUCCESS);
                }
            }
    }
    END(NVML_ERROR_NOT_FOUND);
}

/* Accepts "DDDDDDDD:BB:DD.F", "DDDD:BB:DD.F" and "BB:DD.F" (hex). */
static int parse_bus(const char *s, unsigned *dom, unsigned *bus, unsigned *dev)
{
    unsigned a, b, c, f;
    if (sscanf(s, "%x:%x:%x.%x", &a, &b, &c, &f) == 4) {
        *dom = a; *bus = b; *dev = c;
        return 0;
    }
    if (sscanf(s, "%x:%x.%x", &b, &c, &f) == 3) {
        *dom = 0; *bus = b; *dev = c;
        return 0;
    }
    return -1;
}

static nvmlReturn_t by_bus(const char *fn, const char *busId, nvmlDevice_t *device)
{
    unsigned d1, b1, v1, d2, b2, v2;
    int g;
    BEGIN(fn, -1);
    if (!busId || !device || parse_bus(busId, &d1, &b1, &v1) != 0)
        END(NVML_ERROR_INVALID_ARGUMENT);
    for (g = 0; g < S.ngpu; g++)
        if (parse_bus(S.gpu[g].bus, &d2, &b2, &v2) == 0 && d1 == d2 && b1 == b2 && v1 == v2) {
            *device = &H_dev[g];
            END(NVML_SUCCESS);
        }
    END(NVML_ERROR_NOT_FOUND);
}

FN_EXPORT nvmlReturn_t nvmlDeviceGetHandleByPciBusId_v2(const char *b, nvmlDevice_t *d) { return by_bus("nvmlDeviceGetHandleByPciBusId_v2", b, d); }
FN_EXPORT nvmlReturn_t nvmlDeviceGetHandleByPciBusId(const char *b, nvmlDevice_t *d) { return by_bus("nvmlDeviceGetHandleByPciBusId", b, d); }

FN_EXPORT nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t device, char *name, unsigned int length)
{
    int g, gi, ci, k;
    char buf[200], cin[96];
    BEGIN("nvmlDeviceGetName", dev_gpu(device));
    k = dev_resolve(device, &g, &gi, &ci);
    if (k < 0)
        END(NVML_ERROR_INVALID_ARGUMENT);
    if (k == 0)
        END(put_str(name, length, S.gpu[g].m->name));
    ci_profile_name(S.gpu[g].m, model_prof_by_id(S.gpu[g].m, S.gpu[g].gi[gi].profile),
                    S.gpu[g].gi[gi].ci[ci].profile, cin, sizeof cin);
    /* "<parent name> MIG <profile>", e.g. "NVIDIA A100-SXM4-40GB MIG 1g.5gb" */
    snprintf(buf, sizeof buf, "%s %s", S.gpu[g].m->name, cin);
    END(put_str(name, length, buf));
}

FN_EXPORT nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t device, char *uuid, unsigned int length)
{
    int g, gi, ci, k;
    char buf[64];
    BEGIN("nvmlDeviceGetUUID", dev_gpu(device));
    k = dev_resolve(device, &g, &gi, &ci);
    if (k < 0)
        END(NVML_ERROR_INVALID_ARGUMENT);
    if (k == 0)
        END(put_str(uuid, length, S.gpu[g].uuid));
    mig_uuid(&S.gpu[g], gi, ci, buf, sizeof buf);
    END(put_str(uuid, length, buf));
}

FN_EXPORT nvmlReturn_t nvmlDeviceGetSerial(nvmlDevice_t device, char *serial, unsigned int length)
{
    int g, gi, ci;
    BEGIN("nvmlDeviceGetSerial", dev_gpu(device));
    if (dev_resolve(device, &g, &gi, &ci) < 0)
        END(NVML_ERROR_INVALID_ARGUMENT);
    END(put_str(serial, length, S.gpu[g].serial));   /* MIG handle: the parent's [inferred] */
}

/* The vBIOS version is a per-GPU simulator setting (simnode gpu --vbios); without one the fake answers NOT_SUPPORTED
 * [invented: real boards always report one]. A MIG device handle answers for its parent [inferred]. */
FN_EXPORT nvmlReturn_t nvmlDeviceGetVbiosVersion(nvmlDevice_t device, char *version, unsigned int length)
{
    int g, gi, ci;
    BEGIN("nvmlDeviceGetVbiosVersion", dev_gpu(device));
    if (dev_resolve(device, &g, &gi, &ci) < 0)
        END(NVML_ERROR_INVALID_ARGUMENT);
    if (!S.gpu[g].vbios[0])
        END(NVML_ERROR_NOT_SUPPORTED);
    END(put_str(version, length, S.gpu[g].vbios));
}

FN_EXPORT nvmlReturn_t nvmlDeviceGetPciInfo_v3(nvmlDevice_t device, nvmlPciInfo_t *pci)
{
    int g, gi, ci;
    unsigned dom, bus, dev;
    const model_t *m;
    BEGIN("nvmlDeviceGetPciInfo_v3", dev_gpu(device));
    if (dev_resolve(device, &g, &gi, &ci) < 0 || !pci || parse_bus(S.gpu[g].bus, &dom, &bus, &dev) != 0)
        END(NVML_ERROR_INVALID_ARGUMENT);
    m = S.gpu[g].m;
    memset(pci, 0, sizeof *pci);
    pci->domain = dom;
    pci->bus = bus;
    pci->device = dev;
    pci->pciDeviceId = (m->pci_dev << 16) | 0x10DE;
    pci->pciSubSystemId = m->subsys;
    snprintf(pci->busId, sizeof pci->busId, "%08X:%02X:%02X.0", dom, bus, dev);
    snprintf(pci->busIdLegacy, sizeof pci->busIdLegacy, "%04X:%02X:%02X.0", dom & 0xFFFF, bus, dev);
    END(NVML_SUCCESS);
}

/* total/used in bytes; MIG handle: the GI's memory (nvml.md §5.6). reserved = 0 [inferred]. */
static int mem_of(nvmlDevice_t device, unsigned long long *total, unsigned long long *used)
{
    int g, gi, ci, i, k = dev_resolve(device, &g, &gi, &ci);
    unsigned long long u = 0;
    if (k < 0)
        return -1;
    if (k == 0) {
        *total = S.gpu[g].m->total_mib;
        for (i = 0; i < S.nproc; i++)
            if (S.proc[i].gpu == g)
                u += S.proc[i].used_mib;
    } else {
        *total = model_prof_by_id(S.gpu[g].m, S.gpu[g].gi[gi].profile)->mem_mib;
        for (i = 0; i < S.nproc; i++)
            if (S.proc[i].gpu == g && S.proc[i].gi == gi)
                u += S.proc[i].used_mib;
    }
    if (u > *total)
        u = *total;
    *total <<= 20;
    *used = u << 20;
    return 0;
}

FN_EXPORT nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t device, nvmlMemory_t *memory)
{
    unsigned long long t, u;
    BEGIN("nvmlDeviceGetMemoryInfo", dev_gpu(device));
    if (!memory || mem_of(device, &t, &u) != 0)
        END(NVML_ERROR_INVALID_ARGUMENT);
    memory->total = t;
    memory->used = u;
    memory->free = t - u;
    END(NVML_SUCCESS);
}

FN_EXPORT nvmlReturn_t nvmlDeviceGetMemoryInfo_v2(nvmlDevice_t device, nvmlMemory_v2_t *memory)
{
    unsigned long long t, u;
    BEGIN("nvmlDeviceGetMemoryInfo_v2", dev_gpu(device));
    if (!memory || mem_of(device, &t, &u) != 0)
        END(NVML_ERROR_INVALID_ARGUMENT);
    /* wrong struct version: ARGUMENT_VERSION_MISMATCH, the usual nvml.h convention [inferred] */
    if (memory->version != nvmlMemory_v2)
        END(NVML_ERROR_ARGUMENT_VERSION_MISMATCH);
    memory->total = t;
    memory->reserved = 0;
    memory->used = u;
    memory->free = t - u;
    END(NVML_SUCCESS);
}

FN_EXPORT nvmlReturn_t nvmlDeviceGetArchitecture(nvmlDevice_t device, nvmlDeviceArchitecture_t *arch)
{
    int g, gi, ci;
    BEGIN("nvmlDeviceGetArchitecture", dev_gpu(device));
    if (!arch || dev_resolve(device, &g, &gi, &ci) < 0)
        END(NVML_ERROR_INVALID_ARGUMENT);
    *arch = (unsigned)S.gpu[g].m->arch;
    END(NVML_SUCCESS);
}

FN_EXPORT nvmlReturn_t nvmlDeviceGetCudaComputeCapability(nvmlDevice_t device, int *major, int *minor)
{
    int g, gi, ci;
    BEGIN("nvmlDeviceGetCudaComputeCapability", dev_gpu(device));
    if (!major || !minor || dev_resolve(device, &g, &gi, &ci) < 0)
        END(NVML_ERROR_INVALID_ARGUMENT);
    *major = S.gpu[g].m->cc_major;
    *minor = S.gpu[g].m->cc_minor;
    END(NVML_SUCCESS);
}

/* The /dev/nvidia<minor> number.  The simulated nodes number their device nodes by GPU index (the node
 * harness writes the same "Device Minor" into /proc/driver/nvidia/gpus/<bus>/information) [inferred: real
 * hosts usually agree, nothing guarantees it].  A MIG handle has no device node of its own: INVALID_ARGUMENT,
 * as for the other physical-GPU calls [inferred]. */
FN_EXPORT nvmlReturn_t nvmlDeviceGetMinorNumber(nvmlDevice_t device, unsigned int *minorNumber)
{
    int g = 0;
    BEGIN("nvmlDeviceGetMinorNumber", dev_gpu(device));
    if (!minorNumber || !phys(device, &g))
        END(NVML_ERROR_INVALID_ARGUMENT);
    *minorNumber = (unsigned)g;
    END(NVML_SUCCESS);
}

/*
 * Fabric (NVLink via NVSwitch, registered with the fabric manager) information.  nvml.h: "For Hopper or
 * newer fully supported devices", NOT_SUPPORTED otherwise.  No simulated node has an NVLink fabric, so on
 * Hopper and later the probe state is NVML_GPU_FABRIC_STATE_NOT_SUPPORTED with SUCCESS [inferred: what
 * non-NVSwitch Hopper boards report; on HGX boards the state would be COMPLETED].  Readers (go-nvlib's
 * IsFabricAttached, the DRA driver's clique probe) treat both answers as "not attached".
 */
static nvmlReturn_t fabric_state(nvmlDevice_t device)
{
    gpu_t *gp = phys(device, NULL);
    if (!gp)
        return NVML_ERROR_INVALID_ARGUMENT;
    if (gp->m->arch < 9)   /* before Hopper (NVML_DEVICE_ARCH_HOPPER = 9) */
        return NVML_ERROR_NOT_SUPPORTED;
    return NVML_SUCCESS;
}

FN_EXPORT nvmlReturn_t nvmlDeviceGetGpuFabricInfo(nvmlDevice_t device, nvmlGpuFabricInfo_t *gpuFabricInfo)
{
    BEGIN("nvmlDeviceGetGpuFabricInfo", dev_gpu(device));
    if (!gpuFabricInfo)
        END(NVML_ERROR_INVALID_ARGUMENT);
    CHECK(fabric_state(device));
    memset(gpuFabricInfo, 0, sizeof *gpuFabricInfo);
    gpuFabricInfo->status = NVML_SUCCESS;
    gpuFabricInfo->state = NVML_GPU_FABRIC_STATE_NOT_SUPPORTED;
    END(NVML_SUCCESS);
}

/* Versioned: v2 (36 bytes) or v3 (40 bytes, adds healthSummary); any other version word:
 * ARGUMENT_VERSION_MISMATCH, the nvml.h convention for versioned structs [inferred]. */
FN_EXPORT nvmlReturn_t nvmlDeviceGetGpuFabricInfoV(nvmlDevice_t device, nvmlGpuFabricInfoV_t *gpuFabricInfo)
{
    unsigned int version;
    BEGIN("nvmlDeviceGetGpuFabricInfoV", dev_gpu(device));
    if (!gpuFabricInfo)
        END(NVML_ERROR_INVALID_ARGUMENT);
    version = gpuFabricInfo->version;
    if (version != nvmlGpuFabricInfo_v2 && version != nvmlGpuFabricInfo_v3)
        END(NVML_ERROR_ARGUMENT_VERSION_MISMATCH);
    CHECK(fabric_state(device));
    if (version == nvmlGpuFabricInfo_v2)
        memset(gpuFabricInfo, 0, sizeof(nvmlGpuFabricInfo_v2_t));
    else
        memset(gpuFabricInfo, 0, sizeof(nvmlGpuFabricInfo_v3_t));
    gpuFabricInfo->version = version;
    gpuFabricInfo->status = NVML_SUCCESS;
    gpuFabricInfo->state = NVML_GPU_FABRIC_STATE_NOT_SUPPORTED;
    gpuFabricInfo->healthMask = 0;   /* every NVML_GPU_FABRIC_HEALTH_MASK_*_NOT_SUPPORTED is 0 */
    if (version == nvmlGpuFabricInfo_v3)
        gpuFabricInfo->healthSummary = NVML_GPU_FABRIC_HEALTH_SUMMARY_NOT_SUPPORTED;
    END(NVML_SUCCESS);
}

/*
 * How the GPU addresses system memory.  nvml.h: "For Turing or newer", NOT_SUPPORTED on other platforms.
 * The Grace Hopper superchip (GH200) reaches CPU memory coherently over NVLink-C2C: ATS.  The simulated
 * x86 nodes with discrete boards are given NONE, neither HMM nor ATS active [inferred: HMM depends on the
 * kernel and the open kernel modules, which the simulator does not model].  Volta (V100): NOT_SUPPORTED.
 */
FN_EXPORT nvmlReturn_t nvmlDeviceGetAddressingMode(nvmlDevice_t device, nvmlDeviceAddressingMode_t *mode)
{
    gpu_t *gp;
    BEGIN("nvmlDeviceGetAddressingMode", dev_gpu(device));
    gp = phys(device, NULL);
    if (!gp || !mode)
        END(NVML_ERROR_INVALID_ARGUMENT);
    if (mode->version != nvmlDeviceAddressingMode_v1)
        END(NVML_ERROR_ARGUMENT_VERSION_MISMATCH);
    if (gp->m->cc_major < 7 || (gp->m->cc_major == 7 && gp->m->cc_minor < 5))   /* before Turing (7.5) */
        END(NVML_ERROR_NOT_SUPPORTED);
    mode->value = strncmp(gp->m->key, "GH200", 5) == 0 ? NVML_DEVICE_ADDRESSING_MODE_ATS
                                                         : NVML_DEVICE_ADDRESSING_MODE_NONE;
    END(NVML_SUCCESS);
}

/* ======================================================================== */
/* MIG mode                                                                 */
/* ======================================================================== */

FN_EXPORT nvmlReturn_t nvmlDeviceGetMigMode(nvmlDevice_t device, unsigned int *currentMode, unsigned int *pendingMode)
{
    gpu_t *gp;
    BEGIN("nvmlDeviceGetMigMode", dev_gpu(device));
    gp = phys(device, NULL);
    if (!gp || !currentMode || !pendingMode)
        END(NVML_ERROR_INVALID_ARGUMENT);
    if (!gp->m->mig)
        END(NVML_ERROR_NOT_SUPPORTED);
    *currentMode = (unsigned)gp->mode;
    *pendingMode = (unsigned)gp->pending;
    END(NVML_SUCCESS);
}

static int gpu_has_gis(const gpu_t *gp)
{
    int i;
    for (i = 0; i < MAX_GI; i++)
        if (gp->gi[i].used)
            return 1;
    return 0;
}

/*
 * nvml.md §5.2 / mig.md §5.2.  The return value and *activationStatus are separate:
 *  - mode == current            -> pending := mode, status SUCCESS
 *  - DISABLE while GIs exist    -> option disable_with_instances: "pending" (default):
 *                                  SUCCESS + status IN_USE, mode stays pending; "error": IN_USE
 *                                  returned directly, nothing changes.  Real behaviour unverified.
 *  - GPU busy (any process)     -> pending, status IN_USE
 *  - Ampere, reset-blocked GPU  -> pending, status RESET_REQUIRED (passthrough VM)
 *  - Ampere with option ampere_auto_reset=no -> pending, status RESET_REQUIRED [inferred]
 *  - otherwise                  -> current := mode (Ampere: the driver resets the idle GPU
 *                                  itself; Hopper+: reset-less), status SUCCESS
 */
FN_EXPORT nvmlReturn_t nvmlDeviceSetMigMode(nvmlDevice_t device, unsigned int mode, nvmlReturn_t *activationStatus)
{
    gpu_t *gp;
    int g;
    BEGIN("nvmlDeviceSetMigMode", dev_gpu(device));
    gp = phys(device, &g);
    if (!gp || !activationStatus)
        END(NVML_ERROR_INVALID_ARGUMENT);
    if (!gp->m->mig)
        END(NVML_ERROR_NOT_SUPPORTED);
    if (!privileged())
        END(NVML_ERROR_NO_PERMISSION);
    if (mode != NVML_DEVICE_MIG_DISABLE && mode != NVML_DEVICE_MIG_ENABLE)
        END(NVML_ERROR_INVALID_ARGUMENT);
    if (mode == NVML_DEVICE_MIG_DISABLE && gp->mode && gpu_has_gis(gp)) {
        if (!strcmp(state_option(&S, "disable_with_instances", "pending"), "error"))
            END(NVML_ERROR_IN_USE);
        gp->pending = 0;
        *activationStatus = NVML_ERROR_IN_USE;
        g_dirty = 1;
        END(NVML_SUCCESS);
    }
    gp->pending = (int)mode;
    g_dirty = 1;
    if ((int)mode == gp->mode) {
        *activationStatus = NVML_SUCCESS;
    } else if (gpu_busy(&S, g)) {
        *activationStatus = NVML_ERROR_IN_USE;
    } else if (gp->m->arch < 9 &&
               (gp->reset_blocked || !strcmp(state_option(&S, "ampere_auto_reset", "yes"), "no"))) {
        *activationStatus = NVML_ERROR_RESET_REQUIRED;
    } else {
        gp->mode = (int)mode;
        gpu_clear_instances(gp);
        *activationStatus = NVML_SUCCESS;
    }
    END(NVML_SUCCESS);
}

/* ======================================================================== */
/* GPU instance profiles, placements, capacity                              */
/* ======================================================================== */

/* Common checks of the MIG-management calls on a physical GPU. */
static nvmlReturn_t mig_checks(gpu_t *gp, int need_priv, int need_enabled)
{
    if (!gp)
        return NVML_ERROR_INVALID_ARGUMENT;
    if (!gp->m->mig)
        return NVML_ERROR_NOT_SUPPORTED;
    if (need_priv && !privileged())
        return NVML_ERROR_NO_PERMISSION;
    if (need_enabled && !gp->mode)
        return NVML_ERROR_NOT_SUPPORTED;
    return NVML_SUCCESS;
}


static void fill_gi_v1(const gprof_t *p, nvmlGpuInstanceProfileInfo_t *o)
{
    memset(o, 0, sizeof *o);
    o->id = (unsigned)p->id;
    o->isP2pSupported = 0;
    o->sliceCount = (unsigned)p->cslices;
    o->instanceCount = (unsigned)p->count;
    o->multiprocessorCount = (unsigned)p->sm;
    o->copyEngineCount = (unsigned)p->ce;
    o->decoderCount = (unsigned)p->dec;
    o->encoderCount = (unsigned)p->enc;
    o->jpegCount = (unsigned)p->jpeg;
    o->ofaCount = (unsigned)p->ofa;
    o->memorySizeMB = p->mem_mib;
}

/* v2 and v3 share the size (152); only the version byte tells them apart (nvml.md §3). */
static nvmlReturn_t fill_gi_versioned(const gprof_t *p, void *info)
{
    unsigned int version = *(unsigned int *)info;
    if (version == nvmlGpuInstanceProfileInfo_v2) {
        nvmlGpuInstanceProfileInfo_v2_t *o = info;
        nvmlGpuInstanceProfileInfo_t v1;
        fill_gi_v1(p, &v1);
        memset(o, 0, sizeof *o);
        o->version = version;
        o->id = v1.id;
        o->isP2pSupported = v1.isP2pSupported;
        o->sliceCount = v1.sliceCount;
        o->instanceCount = v1.instanceCount;
        o->multiprocessorCount = v1.multiprocessorCount;
        o->copyEngineCount = v1.copyEngineCount;
        o->decoderCount = v1.decoderCount;
        o->encoderCount = v1.encoderCount;
        o->jpegCount = v1.jpegCount;
        o->ofaCount = v1.ofaCount;
        o->memorySizeMB = v1.memorySizeMB;
        /* "MIG 3g.20gb": the name format is unverified (nvml.md §8 item 1) */
        snprintf(o->name, sizeof o->name, "MIG %s", p->name);
        return NVML_SUCCESS;
    }
    if (version == nvmlGpuInstanceProfileInfo_v3) {
        nvmlGpuInstanceProfileInfo_v3_t *o = info;
        memset(o, 0, sizeof *o);
        o->version = version;
        o->id = (unsigned)p->id;
        o->sliceCount = (unsigned)p->cslices;
        o->instanceCount = (unsigned)p->count;
        o->multiprocessorCount = (unsigned)p->sm;
        o->copyEngineCount = (unsigned)p->ce;
        o->decoderCount = (unsigned)p->dec;
        o->encoderCount = (unsigned)p->enc;
        o->jpegCount = (unsigned)p->jpeg;
        o->ofaCount = (unsigned)p->ofa;
        o->memorySizeMB = p->mem_mib;
        snprintf(o->name, sizeof o->name, "MIG %s", p->name);
        o->capabilities = 0;   /* no P2P, no GFX on the modelled compute GPUs */
        return NVML_SUCCESS;
    }
    return NVML_ERROR_INVALID_ARGUMENT;   /* wrong version: INVALID_ARGUMENT (nvml.md §5.3) */
}

/* `profile` is the NVML_GPU_INSTANCE_PROFILE_* enum index, NOT the profile id (nvml.md §5.3). */
static nvmlReturn_t gi_profile_lookup(nvmlDevice_t device, unsigned int profile, const gprof_t **out)
{
    gpu_t *gp = phys(device, NULL);
    nvmlReturn_t rc = mig_checks(gp, 0, 0);
    if (rc != NVML_SUCCESS)
        return rc;
    if (profile >= NVML_GPU_INSTANCE_PROFILE_COUNT)
        return NVML_ERROR_INVALID_ARGUMENT;
    if (!gp->mode)   /* profile info while MIG is disabled: NOT_SUPPORTED [inferred, nvml.md §5.3] */
        return NVML_ERROR_NOT_SUPPORTED;
    *out = model_prof_by_enum(gp->m, (int)profile);
    /* a profile the node's driver is too old for is not offered at all (mig.md §5.1) */
    return (*out && gi_driver_offers(S.driver, *out)) ? NVML_SUCCESS : NVML_ERROR_NOT_SUPPORTED;
}

/* A GI profile by device-specific id, or NULL when the GPU or the node's driver does not offer it
 * (an older driver does not know the id: INVALID_ARGUMENT for the caller [inferred]). */
static const gprof_t *offered_prof_by_id(const gpu_t *gp, unsigned int id)
{
    const gprof_t *p = model_prof_by_id(gp->m, (int)id);
    return (p && gi_driver_offers(S.driver, p)) ? p : NULL;
}

FN_EXPORT nvmlReturn_t nvmlDeviceGetGpuInstanceProfileInfo(nvmlDevice_t device, unsigned int profile,
                                                           nvmlGpuInstanceProfileInfo_t *info)
{
    const gprof_t *p = NULL;
    BEGIN("nvmlDeviceGetGpuInstanceProfileInfo", dev_gpu(device));
    if (!info)
        END(NVML_ERROR_INVALID_ARGUMENT);
    CHECK(gi_profile_lookup(device, profile, &p));
    fill_gi_v1(p, info);
    END(NVML_SUCCESS);
}

FN_EXPORT nvmlReturn_t nvmlDeviceGetGpuInstanceProfileInfoV(nvmlDevice_t device, unsigned int profile,
                                                            nvmlGpuInstanceProfileInfo_v2_t *info)
{
    const gprof_t *p = NULL;
    BEGIN("nvmlDeviceGetGpuInstanceProfileInfoV", dev_gpu(device));
    if (!info || (info->version != nvmlGpuInstanceProfileInfo_v2 && info->version != nvmlGpuInstanceProfileInfo_v3))
        END(NVML_ERROR_INVALID_ARGUMENT);
    CHECK(gi_profile_lookup(device, profile, &p));
    END(fill_gi_versioned(p, info));
}

/* By profile *id* (pynvml 13.580+). Unknown id: INVALID_ARGUMENT [inferred]. */
FN_EXPORT nvmlReturn_t nvmlDeviceGetGpuInstanceProfileInfoByIdV(nvmlDevice_t device, unsigned int profileId,
                                                                nvmlGpuInstanceProfileInfo_v2_t *info)
{
    const gprof_t *p;
    gpu_t *gp;
    BEGIN("nvmlDeviceGetGpuInstanceProfileInfoByIdV", dev_gpu(device));
    gp = phys(device, NULL);
    if (!info || (info->version != nvmlGpuInstanceProfileInfo_v2 && info->version != nvmlGpuInstanceProfileInfo_v3))
        END(NVML_ERROR_INVALID_ARGUMENT);
    CHECK(mig_checks(gp, 0, 1));
    p = offered_prof_by_id(gp, profileId);
    if (!p)
        END(NVML_ERROR_INVALID_ARGUMENT);
    END(fill_gi_versioned(p, info));
}

/* Possible placements "regardless of whether MIG is enabled" (nvml.md §5.3); NULL array = count query. */
static nvmlReturn_t gi_placements(const char *fn, nvmlDevice_t device, unsigned int profileId,
                                  nvmlGpuInstancePlacement_t *placements, unsigned int *count)
{
    gpu_t *gp;
    const gprof_t *p;
    int i;
    BEGIN(fn, dev_gpu(device));
    gp = phys(device, NULL);
    if (!count)
        END(NVML_ERROR_INVALID_ARGUMENT);
    CHECK(mig_checks(gp, 1, 0));
    p = offered_prof_by_id(gp, profileId);
    if (!p)
        END(NVML_ERROR_INVALID_ARGUMENT);
    if (placements)
        for (i = 0; i < p->nplace; i++) {
            placements[i].start = (unsigned)p->place[i];
            placements[i].size = (unsigned)p->size;
        }
    *count = (unsigned)p->nplace;
    END(NVML_SUCCESS);
}

FN_EXPORT nvmlReturn_t nvmlDeviceGetGpuInstancePossiblePlacements_v2(nvmlDevice_t d, unsigned int id,
                                                                     nvmlGpuInstancePlacement_t *pl, unsigned int *c)
{
    return gi_placements("nvmlDeviceGetGpuInstancePossiblePlacements_v2", d, id, pl, c);
}

FN_EXPORT nvmlReturn_t nvmlDeviceGetGpuInstancePossiblePlacements(nvmlDevice_t d, unsigned int id,
                                                                  nvmlGpuInstancePlacement_t *pl, unsigned int *c)
{
    return gi_placements("nvmlDeviceGetGpuInstancePossiblePlacements", d, id, pl, c);
}

FN_EXPORT nvmlReturn_t nvmlDeviceGetGpuInstanceRemainingCapacity(nvmlDevice_t device, unsigned int profileId,
                                                                 unsigned int *count)
{
    gpu_t *gp;
    const gprof_t *p;
    BEGIN("nvmlDeviceGetGpuInstanceRemainingCapacity", dev_gpu(device));
    gp = phys(device, NULL);
    if (!count)
        END(NVML_ERROR_INVALID_ARGUMENT);
    CHECK(mig_checks(gp, 1, 1));
    p = offered_prof_by_id(gp, profileId);
    if (!p)
        END(NVML_ERROR_INVALID_ARGUMENT);
    *count = (unsigned)gi_remaining(gp, p);
    END(NVML_SUCCESS);
}

static nvmlReturn_t gi_create(gpu_t *gp, int g, const gprof_t *p, int start, nvmlGpuInstance_t *out)
{
    int id = gi_new_id(gp, start, p->size);
    if (id < 0)
        return NVML_ERROR_INSUFFICIENT_RESOURCES;
    memset(&gp->gi[id], 0, sizeof gp->gi[id]);
    gp->gi[id].used = 1;
    gp->gi[id].profile = p->id;
    gp->gi[id].start = start;
    gp->gi[id].size = p->size;
    g_dirty = 1;
    *out = &H_gi[g][id];
    return NVML_SUCCESS;
}

FN_EXPORT nvmlReturn_t nvmlDeviceCreateGpuInstance(nvmlDevice_t device, unsigned int profileId,
                                                   nvmlGpuInstance_t *gpuInstance)
{
    gpu_t *gp;
    const gprof_t *p;
    int g = 0, start;
    BEGIN("nvmlDeviceCreateGpuInstance", dev_gpu(device));
    gp = phys(device, &g);
    if (!gpuInstance)
        END(NVML_ERROR_INVALID_ARGUMENT);
    CHECK(mig_checks(gp, 1, 1));
    p = offered_prof_by_id(gp, profileId);
    if (!p)
        END(NVML_ERROR_INVALID_ARGUMENT);
    start = gi_auto_start(gp, p);
    if (start < 0)
        END(NVML_ERROR_INSUFFICIENT_RESOURCES);
    END(gi_create(gp, g, p, start, gpuInstance));
}

FN_EXPORT nvmlReturn_t nvmlDeviceCreateGpuInstanceWithPlacement(nvmlDevice_t device, unsigned int profileId,
                                                                const nvmlGpuInstancePlacement_t *placement,
                                                                nvmlGpuInstance_t *gpuInstance)
{
    gpu_t *gp;
    const gprof_t *p;
    int g = 0, i, ok = 0, n = 0;
    BEGIN("nvmlDeviceCreateGpuInstanceWithPlacement", dev_gpu(device));
    gp = phys(device, &g);
    if (!gpuInstance || !placement)
        END(NVML_ERROR_INVALID_ARGUMENT);
    CHECK(mig_checks(gp, 1, 1));
    p = offered_prof_by_id(gp, profileId);
    if (!p)
        END(NVML_ERROR_INVALID_ARGUMENT);
    for (i = 0; i < p->nplace; i++)
        if ((unsigned)p->place[i] == placement->start && (unsigned)p->size == placement->size)
            ok = 1;
    if (!ok)
        END(NVML_ERROR_INVALID_ARGUMENT);
    for (i = 0; i < MAX_GI; i++)
        if (gp->gi[i].used && gp->gi[i].profile == p->id)
            n++;
    if (n >= p->count || !gi_range_free(gp, (int)placement->start, p->size) || !gi_create_allowed(gp, S.driver, p))
        END(NVML_ERROR_INSUFFICIENT_RESOURCES);
    END(gi_create(gp, g, p, (int)placement->start, gpuInstance));
}

FN_EXPORT nvmlReturn_t nvmlDeviceGetGpuInstances(nvmlDevice_t device, unsigned int profileId,
                                                 nvmlGpuInstance_t *gpuInstances, unsigned int *count)
{
    gpu_t *gp;
    const gprof_t *p;
    int g = 0, i;
    unsigned n = 0;
    BEGIN("nvmlDeviceGetGpuInstances", dev_gpu(device));
    gp = phys(device, &g);
    if (!count || !gpuInstances)
        END(NVML_ERROR_INVALID_ARGUMENT);
    CHECK(mig_checks(gp, 1, 1));
    p = offered_prof_by_id(gp, profileId);
    if (!p)
        END(NVML_ERROR_INVALID_ARGUMENT);
    /* the input value of *count is ignored; never more than instanceCount handles (nvml.md §2.6) */
    for (i = 0; i < MAX_GI && n < (unsigned)p->count; i++)
        if (gp->gi[i].used && gp->gi[i].profile == p->id)
            gpuInstances[n++] = &H_gi[g][i];
    *count = n;
    END(NVML_SUCCESS);
}

FN_EXPORT nvmlReturn_t nvmlDeviceGetGpuInstanceById(nvmlDevice_t device, unsigned int id, nvmlGpuInstance_t *gpuInstance)
{
    gpu_t *gp;
    int g = 0;
    BEGIN("nvmlDeviceGetGpuInstanceById", dev_gpu(device));
    gp = phys(device, &g);
    if (!gpuInstance)
        END(NVML_ERROR_INVALID_ARGUMENT);
    CHECK(mig_checks(gp, 1, 1));
    if (id >= MAX_GI || !gp->gi[id].used)
        END(NVML_ERROR_NOT_FOUND);
    *gpuInstance = &H_gi[g][id];
    END(NVML_SUCCESS);
}

FN_EXPORT nvmlReturn_t nvmlGpuInstanceGetInfo(nvmlGpuInstance_t gpuInstance, nvmlGpuInstanceInfo_t *info)
{
    gi_t *x;
    int g, id;
    BEGIN("nvmlGpuInstanceGetInfo", gih_gpu(gpuInstance));
    x = gi_resolve(gpuInstance, &g, &id);
    if (!x || !info)
        END(NVML_ERROR_INVALID_ARGUMENT);
    info->device = &H_dev[g];   /* the parent device handle */
    info->id = (unsigned)id;
    info->profileId = (unsigned)x->profile;
    info->placement.start = (unsigned)x->start;
    info->placement.size = (unsigned)x->size;
    END(NVML_SUCCESS);
}

FN_EXPORT nvmlReturn_t nvmlGpuInstanceDestroy(nvmlGpuInstance_t gpuInstance)
{
    gi_t *x;
    int g, id;
    BEGIN("nvmlGpuInstanceDestroy", gih_gpu(gpuInstance));
    x = gi_resolve(gpuInstance, &g, &id);
    if (!x)
        END(NVML_ERROR_INVALID_ARGUMENT);
    if (!privileged())
        END(NVML_ERROR_NO_PERMISSION);
    /* IN_USE while compute instances or processes exist on the GI (nvml.md §5.4) */
    if (gi_count_cis(&S.gpu[g], id) || gi_procs(&S, g, id))
        END(NVML_ERROR_IN_USE);
    memset(x, 0, sizeof *x);
    g_dirty = 1;
    END(NVML_SUCCESS);
}

/* ======================================================================== */
/* Compute instances                                                        */
/* ======================================================================== */

static const gprof_t *gi_prof(int g, const gi_t *x)
{
    return model_prof_by_id(S.gpu[g].m, x->profile);
}

static void fill_ci_common(int g, const gi_t *x, int en, unsigned int *fields, char *name)
{
    const gprof_t *gp = gi_prof(g, x);
    fields[0] = (unsigned)en;   /* CI profile id == CI enum (observed, nvml.md §5.3) */
    fields[1] = (unsigned)ci_slices_of_enum(en);
    fields[2] = (unsigned)ci_instance_count(gp, en);
    fields[3] = (unsigned)ci_sm(S.gpu[g].m, gp, en);
    fields[4] = (unsigned)gp->ce;
    fields[5] = (unsigned)gp->dec;
    fields[6] = (unsigned)gp->enc;
    fields[7] = (unsigned)gp->jpeg;
    fields[8] = (unsigned)gp->ofa;
    if (name)
        ci_profile_name(S.gpu[g].m, gp, en, name, 96);
}

static nvmlReturn_t ci_profile_check(nvmlGpuInstance_t h, unsigned int profile, unsigned int eng, int *g, gi_t **x)
{
    int id;
    *x = gi_resolve(h, g, &id);
    if (!*x)
        return NVML_ERROR_INVALID_ARGUMENT;
    if (profile >= NVML_COMPUTE_INSTANCE_PROFILE_COUNT || eng >= NVML_COMPUTE_INSTANCE_ENGINE_PROFILE_COUNT)
        return NVML_ERROR_INVALID_ARGUMENT;
    if (!ci_offered(gi_prof(*g, *x), (int)profile))
        return NVML_ERROR_NOT_SUPPORTED;
    return NVML_SUCCESS;
}

FN_EXPORT nvmlReturn_t nvmlGpuInstanceGetComputeInstanceProfileInfo(nvmlGpuInstance_t gpuInstance, unsigned int profile,
                                                                    unsigned int engProfile,
                                                                    nvmlComputeInstanceProfileInfo_t *info)
{
    int g = 0;
    gi_t *x = NULL;
    unsigned f[9];
    BEGIN("nvmlGpuInstanceGetComputeInstanceProfileInfo", gih_gpu(gpuInstance));
    if (!info)
        END(NVML_ERROR_INVALID_ARGUMENT);
    CHECK(ci_profile_check(gpuInstance, profile, engProfile, &g, &x));
    fill_ci_common(g, x, (int)profile, f, NULL);
    memcpy(info, f, sizeof f);
    END(NVML_SUCCESS);
}

FN_EXPORT nvmlReturn_t nvmlGpuInstanceGetComputeInstanceProfileInfoV(nvmlGpuInstance_t gpuInstance, unsigned int profile,
                                                                     unsigned int engProfile,
                                                                     nvmlComputeInstanceProfileInfo_v2_t *info)
{
    int g = 0;
    gi_t *x = NULL;
    unsigned f[9], version;
    char name[96];
    BEGIN("nvmlGpuInstanceGetComputeInstanceProfileInfoV", gih_gpu(gpuInstance));
    if (!info)
        END(NVML_ERROR_INVALID_ARGUMENT);
    version = info->version;
    if (version != nvmlComputeInstanceProfileInfo_v2 && version != nvmlComputeInstanceProfileInfo_v3)
        END(NVML_ERROR_INVALID_ARGUMENT);
    CHECK(ci_profile_check(gpuInstance, profile, engProfile, &g, &x));
    fill_ci_common(g, x, (int)profile, f, name);
    if (version == nvmlComputeInstanceProfileInfo_v3) {
        nvmlComputeInstanceProfileInfo_v3_t *o = (nvmlComputeInstanceProfileInfo_v3_t *)info;
        memset(o, 0, sizeof *o);
        o->capabilities = 0;
    } else {
        memset(info, 0, sizeof *info);
    }
    info->version = version;
    memcpy(&info->id, f, sizeof f);
    snprintf(info->name, sizeof info->name, "%s", name);
    END(NVML_SUCCESS);
}

FN_EXPORT nvmlReturn_t nvmlGpuInstanceGetComputeInstancePossiblePlacements(nvmlGpuInstance_t gpuInstance,
                                                                           unsigned int profileId,
                                                                           nvmlComputeInstancePlacement_t *placements,
                                                                           unsigned int *count)
{
    int g = 0, i, n, c;
    gi_t *x = NULL;
    BEGIN("nvmlGpuInstanceGetComputeInstancePossiblePlacements", gih_gpu(gpuInstance));
    if (!count)
        END(NVML_ERROR_INVALID_ARGUMENT);
    if (!privileged() && gi_ptr(gpuInstance))
        END(NVML_ERROR_NO_PERMISSION);
    CHECK(ci_profile_check(gpuInstance, profileId, 0, &g, &x));
    n = ci_nplacements(gi_prof(g, x), (int)profileId);
    c = ci_slices_of_enum((int)profileId);
    if (placements)
        for (i = 0; i < n; i++) {
            placements[i].start = (unsigned)ci_placement_start(gi_prof(g, x), (int)profileId, i);
            placements[i].size = (unsigned)c;
        }
    *count = (unsigned)n;
    END(NVML_SUCCESS);
}

FN_EXPORT nvmlReturn_t nvmlGpuInstanceGetComputeInstanceRemainingCapacity(nvmlGpuInstance_t gpuInstance,
                                                                          unsigned int profileId, unsigned int *count)
{
    int g = 0;
    gi_t *x = NULL;
    BEGIN("nvmlGpuInstanceGetComputeInstanceRemainingCapacity", gih_gpu(gpuInstance));
    if (!count)
        END(NVML_ERROR_INVALID_ARGUMENT);
    if (!privileged() && gi_ptr(gpuInstance))
        END(NVML_ERROR_NO_PERMISSION);
    CHECK(ci_profile_check(gpuInstance, profileId, 0, &g, &x));
    *count = (unsigned)ci_remaining(x, gi_prof(g, x), (int)profileId);
    END(NVML_SUCCESS);
}

static nvmlReturn_t ci_create(nvmlGpuInstance_t gpuInstance, unsigned int profileId,
                              const nvmlComputeInstancePlacement_t *placement, nvmlComputeInstance_t *out)
{
    int g = 0, gid, i, n = 0, start = -1, c, id, ok = 0;
    const gprof_t *gp;
    gi_t *x = NULL;
    if (!out)
        return NVML_ERROR_INVALID_ARGUMENT;
    if (!privileged() && gi_ptr(gpuInstance))
        return NVML_ERROR_NO_PERMISSION;
    {
        nvmlReturn_t rc = ci_profile_check(gpuInstance, profileId, 0, &g, &x);
        if (rc != NVML_SUCCESS)
            return rc;
    }
    gid = gi_ptr(gpuInstance)->gi;
    gp = gi_prof(g, x);
    c = ci_slices_of_enum((int)profileId);
    for (i = 0; i < MAX_CI; i++)
        if (x->ci[i].used && x->ci[i].profile == (int)profileId)
            n++;
    if (placement) {
        /* only the catalog's placements of this CI profile (a 3c in a 7g GI: 0 or 4) */
        for (i = 0; i < ci_nplacements(gp, (int)profileId); i++)
            if ((unsigned)ci_placement_start(gp, (int)profileId, i) == placement->start)
                ok = 1;
        if (placement->size != (unsigned)c || !ok)
            return NVML_ERROR_INVALID_ARGUMENT;
        if (n >= ci_instance_count(gp, (int)profileId) || !ci_range_free(x, (int)placement->start, c))
            return NVML_ERROR_INSUFFICIENT_RESOURCES;
        start = (int)placement->start;
    } else {
        if (n >= ci_instance_count(gp, (int)profileId))
            return NVML_ERROR_INSUFFICIENT_RESOURCES;
        /* auto-placement inside a GI: the first free start of the placement list [inferred] */
        for (i = 0; i < ci_nplacements(gp, (int)profileId); i++)
            if (ci_range_free(x, ci_placement_start(gp, (int)profileId, i), c)) {
                start = ci_placement_start(gp, (int)profileId, i);
                break;
            }
        if (start < 0)
            return NVML_ERROR_INSUFFICIENT_RESOURCES;
    }
    id = ci_new_id(x);
    if (id < 0)
        return NVML_ERROR_INSUFFICIENT_RESOURCES;
    x->ci[id].used = 1;
    x->ci[id].profile = (int)profileId;
    x->ci[id].start = start;
    x->ci[id].size = c;
    g_dirty = 1;
    *out = &H_ci[g][gid][id];
    return NVML_SUCCESS;
}

FN_EXPORT nvmlReturn_t nvmlGpuInstanceCreateComputeInstance(nvmlGpuInstance_t gpuInstance, unsigned int profileId,
                                                            nvmlComputeInstance_t *computeInstance)
{
    BEGIN("nvmlGpuInstanceCreateComputeInstance", gih_gpu(gpuInstance));
    END(ci_create(gpuInstance, profileId, NULL, computeInstance));
}

FN_EXPORT nvmlReturn_t nvmlGpuInstanceCreateComputeInstanceWithPlacement(nvmlGpuInstance_t gpuInstance,
                                                                         unsigned int profileId,
                                                                         const nvmlComputeInstancePlacement_t *placement,
                                                                         nvmlComputeInstance_t *computeInstance)
{
    BEGIN("nvmlGpuInstanceCreateComputeInstanceWithPlacement", gih_gpu(gpuInstance));
    if (!placement)
        END(NVML_ERROR_INVALID_ARGUMENT);
    END(ci_create(gpuInstance, profileId, placement, computeInstance));
}

FN_EXPORT nvmlReturn_t nvmlGpuInstanceGetComputeInstances(nvmlGpuInstance_t gpuInstance, unsigned int profileId,
                                                          nvmlComputeInstance_t *computeInstances, unsigned int *count)
{
    int g = 0, i, gid, cap;
    unsigned n = 0;
    gi_t *x = NULL;
    BEGIN("nvmlGpuInstanceGetComputeInstances", gih_gpu(gpuInstance));
    if (!count || !computeInstances)
        END(NVML_ERROR_INVALID_ARGUMENT);
    if (!privileged() && gi_ptr(gpuInstance))
        END(NVML_ERROR_NO_PERMISSION);
    CHECK(ci_profile_check(gpuInstance, profileId, 0, &g, &x));
    gid = gi_ptr(gpuInstance)->gi;
    cap = ci_instance_count(gi_prof(g, x), (int)profileId);
    for (i = 0; i < MAX_CI && (int)n < cap; i++)
        if (x->ci[i].used && x->ci[i].profile == (int)profileId)
            computeInstances[n++] = &H_ci[g][gid][i];
    *count = n;
    END(NVML_SUCCESS);
}

FN_EXPORT nvmlReturn_t nvmlGpuInstanceGetComputeInstanceById(nvmlGpuInstance_t gpuInstance, unsigned int id,
                                                             nvmlComputeInstance_t *computeInstance)
{
    int g, gid;
    gi_t *x;
    BEGIN("nvmlGpuInstanceGetComputeInstanceById", gih_gpu(gpuInstance));
    x = gi_resolve(gpuInstance, &g, &gid);
    if (!x || !computeInstance)
        END(NVML_ERROR_INVALID_ARGUMENT);
    if (!privileged())
        END(NVML_ERROR_NO_PERMISSION);
    if (id >= MAX_CI || !x->ci[id].used)
        END(NVML_ERROR_NOT_FOUND);
    *computeInstance = &H_ci[g][gid][id];
    END(NVML_SUCCESS);
}

static nvmlReturn_t ci_info(const char *fn, nvmlComputeInstance_t ci, nvmlComputeInstanceInfo_t *info, int with_placement)
{
    int g, gi, id;
    ci_t *c;
    BEGIN(fn, cih_gpu(ci));
    c = ci_resolve(ci, &g, &gi, &id);
    if (!c || !info)
        END(NVML_ERROR_INVALID_ARGUMENT);
    info->device = &H_dev[g];        /* the parent device handle */
    info->gpuInstance = &H_gi[g][gi];
    info->id = (unsigned)id;
    info->profileId = (unsigned)c->profile;
    if (with_placement) {
        info->placement.start = (unsigned)c->start;
        info->placement.size = (unsigned)c->size;
    }
    END(NVML_SUCCESS);
}

FN_EXPORT nvmlReturn_t nvmlComputeInstanceGetInfo_v2(nvmlComputeInstance_t ci, nvmlComputeInstanceInfo_t *info)
{
    return ci_info("nvmlComputeInstanceGetInfo_v2", ci, info, 1);
}

/* The old unversioned symbol: fills only the first 24 bytes (device, gpuInstance, id, profileId),
 * in case an old caller passes the pre-placement struct [inferred]. */
FN_EXPORT nvmlReturn_t nvmlComputeInstanceGetInfo(nvmlComputeInstance_t ci, nvmlComputeInstanceInfo_t *info)
{
    return ci_info("nvmlComputeInstanceGetInfo", ci, info, 0);
}

FN_EXPORT nvmlReturn_t nvmlComputeInstanceDestroy(nvmlComputeInstance_t computeInstance)
{
    int g, gi, id;
    ci_t *c;
    BEGIN("nvmlComputeInstanceDestroy", cih_gpu(computeInstance));
    c = ci_resolve(computeInstance, &g, &gi, &id);
    if (!c)
        END(NVML_ERROR_INVALID_ARGUMENT);
    if (!privileged())
        END(NVML_ERROR_NO_PERMISSION);
    if (ci_procs(&S, g, gi, id))   /* IN_USE while processes run on the CI (nvml.md §5.5) */
        END(NVML_ERROR_IN_USE);
    memset(c, 0, sizeof *c);
    g_dirty = 1;
    END(NVML_SUCCESS);
}

/* ======================================================================== */
/* MIG device handles                                                       */
/* ======================================================================== */

FN_EXPORT nvmlReturn_t nvmlDeviceGetMaxMigDeviceCount(nvmlDevice_t device, unsigned int *count)
{
    gpu_t *gp;
    BEGIN("nvmlDeviceGetMaxMigDeviceCount", dev_gpu(device));
    gp = phys(device, NULL);
    if (!gp || !count)
        END(NVML_ERROR_INVALID_ARGUMENT);
    /* the maximum possible number; 0 if MIG is unsupported or disabled (nvml.md §5.6) */
    *count = (gp->m->mig && gp->mode) ? (unsigned)gp->m->max_mig : 0;
    END(NVML_SUCCESS);
}

/* MIG devices of a GPU, ordered by GI id then CI id (observed nvidia-smi order). */
static int mig_list(const gpu_t *gp, int *gis, int *cis, int max)
{
    int gi, ci, n = 0;
    for (gi = 0; gi < MAX_GI; gi++)
        for (ci = 0; gp->gi[gi].used && ci < MAX_CI; ci++)
            if (gp->gi[gi].ci[ci].used && n < max) {
                gis[n] = gi;
                cis[n] = ci;
                n++;
            }
    return n;
}

FN_EXPORT nvmlReturn_t nvmlDeviceGetMigDeviceHandleByIndex(nvmlDevice_t device, unsigned int index, nvmlDevice_t *migDevice)
{
    gpu_t *gp;
    int g = 0, n, gis[MAX_GI * MAX_CI], cis[MAX_GI * MAX_CI];
    unsigned max;
    BEGIN("nvmlDeviceGetMigDeviceHandleByIndex", dev_gpu(device));
    gp = phys(device, &g);
    if (!gp || !migDevice)
        END(NVML_ERROR_INVALID_ARGUMENT);
    if (!gp->m->mig)
        END(NVML_ERROR_NOT_SUPPORTED);
    max = gp->mode ? (unsigned)gp->m->max_mig : 0;
    if (index >= max)   /* MIG disabled: max = 0 -> INVALID_ARGUMENT [inferred] */
        END(NVML_ERROR_INVALID_ARGUMENT);
    n = mig_list(gp, gis, cis, MAX_GI * MAX_CI);
    if ((int)index >= n)
        END(NVML_ERROR_NOT_FOUND);
    *migDevice = &H_mig[g][gis[index]][cis[index]];
    END(NVML_SUCCESS);
}

FN_EXPORT nvmlReturn_t nvmlDeviceGetDeviceHandleFromMigDeviceHandle(nvmlDevice_t migDevice, nvmlDevice_t *device)
{
    int g, gi, ci;
    BEGIN("nvmlDeviceGetDeviceHandleFromMigDeviceHandle", dev_gpu(migDevice));
    if (!device || dev_resolve(migDevice, &g, &gi, &ci) != 1)   /* full GPU: INVALID_ARGUMENT [inferred] */
        END(NVML_ERROR_INVALID_ARGUMENT);
    *device = &H_dev[g];
    END(NVML_SUCCESS);
}

FN_EXPORT nvmlReturn_t nvmlDeviceIsMigDeviceHandle(nvmlDevice_t device, unsigned int *isMigDevice)
{
    int g, gi, ci, k;
    BEGIN("nvmlDeviceIsMigDeviceHandle", dev_gpu(device));
    k = dev_resolve(device, &g, &gi, &ci);
    if (k < 0 || !isMigDevice)
        END(NVML_ERROR_INVALID_ARGUMENT);
    *isMigDevice = (unsigned)k;
    END(NVML_SUCCESS);
}

static nvmlReturn_t mig_id(const char *fn, nvmlDevice_t device, unsigned int *id, int want_ci)
{
    int g, gi, ci, k;
    BEGIN(fn, dev_gpu(device));
    k = dev_resolve(device, &g, &gi, &ci);
    if (k < 0 || !id)
        END(NVML_ERROR_INVALID_ARGUMENT);
    if (k == 0)   /* full GPU handle: NOT_SUPPORTED [inferred, nvml.md §5.6] */
        END(NVML_ERROR_NOT_SUPPORTED);
    *id = (unsigned)(want_ci ? ci : gi);
    END(NVML_SUCCESS);
}

FN_EXPORT nvmlReturn_t nvmlDeviceGetGpuInstanceId(nvmlDevice_t d, unsigned int *id) { return mig_id("nvmlDeviceGetGpuInstanceId", d, id, 0); }
FN_EXPORT nvmlReturn_t nvmlDeviceGetComputeInstanceId(nvmlDevice_t d, unsigned int *id) { return mig_id("nvmlDeviceGetComputeInstanceId", d, id, 1); }

/*
 * Attributes of a MIG device (nvml.h: "This API currently only supports MIG device handles"; a full GPU
 * gives NOT_SUPPORTED).  They are the profile figures of the device's GI and CI, as GPU feature discovery
 * and the device plugin read them (go-nvlib's MIG profile, GFD's mig-<profile>.* labels):
 * multiprocessors = the CI's SMs, the engines = the GI's (CIs share them), gpuInstanceSliceCount = the GI's
 * compute slices ("3" of 3g.20gb), computeInstanceSliceCount = the CI's ("1" of 1c.3g.20gb), memory = the
 * GI's.  For a CI smaller than its GI the SM count is C x sm_per_slice [inferred], as in the CI profile info.
 */
static nvmlReturn_t attributes(const char *fn, nvmlDevice_t device, nvmlDeviceAttributes_t *attr)
{
    int g, gi, ci, k;
    const gi_t *x;
    const gprof_t *p;
    BEGIN(fn, dev_gpu(device));
    k = dev_resolve(device, &g, &gi, &ci);
    if (k < 0 || !attr)
        END(NVML_ERROR_INVALID_ARGUMENT);
    if (k == 0)
        END(NVML_ERROR_NOT_SUPPORTED);
    x = &S.gpu[g].gi[gi];
    p = model_prof_by_id(S.gpu[g].m, x->profile);
    memset(attr, 0, sizeof *attr);
    attr->multiprocessorCount = (unsigned)ci_sm(S.gpu[g].m, p, x->ci[ci].profile);
    attr->sharedCopyEngineCount = (unsigned)p->ce;
    attr->sharedDecoderCount = (unsigned)p->dec;
    attr->sharedEncoderCount = (unsigned)p->enc;
    attr->sharedJpegCount = (unsigned)p->jpeg;
    attr->sharedOfaCount = (unsigned)p->ofa;
    attr->gpuInstanceSliceCount = (unsigned)p->cslices;
    attr->computeInstanceSliceCount = (unsigned)ci_slices_of_enum(x->ci[ci].profile);
    attr->memorySizeMB = p->mem_mib;
    END(NVML_SUCCESS);
}

/* nvml.h declares only _v2 and #defines the plain name to it; go-nvml binds the plain name and switches to
 * _v2 when dlsym finds it, so a library must export both (real libnvidia-ml.so.1 does). */
FN_EXPORT nvmlReturn_t nvmlDeviceGetAttributes_v2(nvmlDevice_t d, nvmlDeviceAttributes_t *a)
{ return attributes("nvmlDeviceGetAttributes_v2", d, a); }
FN_EXPORT nvmlReturn_t nvmlDeviceGetAttributes(nvmlDevice_t d, nvmlDeviceAttributes_t *a)
{ return attributes("nvmlDeviceGetAttributes", d, a); }

/* ======================================================================== */
/* Topology and NVLink                                                      */
/* ======================================================================== */

/*
 * The device plugin's preferred allocation for full GPUs (go-gpuallocator) asks, for every pair of GPUs,
 * for their common PCIe ancestor and for each NVLink's state and remote PCI device.  The simulator models
 * neither a PCIe tree nor NVLink: a node is one CPU (the node harness writes numa_node -1) whose GPUs sit
 * behind separate host bridges, so two GPUs meet at NVML_TOPOLOGY_NODE ("NODE" in nvidia-smi topo -m) and a
 * GPU with itself at NVML_TOPOLOGY_INTERNAL [inferred]; every board answers the NVLink queries as a PCIe
 * board without NVLink bridges does, NOT_SUPPORTED [inferred: real SXM boards have NVLinks to NVSwitches].
 * go-gpuallocator reads NOT_SUPPORTED as "no link".
 */
FN_EXPORT nvmlReturn_t nvmlDeviceGetTopologyCommonAncestor(nvmlDevice_t device1, nvmlDevice_t device2,
                                                           nvmlGpuTopologyLevel_t *pathInfo)
{
    int g1 = 0, g2 = 0;
    BEGIN("nvmlDeviceGetTopologyCommonAncestor", dev_gpu(device1));
    if (!pathInfo || !phys(device1, &g1) || !phys(device2, &g2))
        END(NVML_ERROR_INVALID_ARGUMENT);
    *pathInfo = g1 == g2 ? NVML_TOPOLOGY_INTERNAL : NVML_TOPOLOGY_NODE;
    END(NVML_SUCCESS);
}

static nvmlReturn_t nvlink_check(const char *fn, nvmlDevice_t device, unsigned int link, const void *out)
{
    BEGIN(fn, dev_gpu(device));
    if (!out || !phys(device, NULL) || link >= NVML_NVLINK_MAX_LINKS)
        END(NVML_ERROR_INVALID_ARGUMENT);
    END(NVML_ERROR_NOT_SUPPORTED);
}

FN_EXPORT nvmlReturn_t nvmlDeviceGetNvLinkState(nvmlDevice_t d, unsigned int link, nvmlEnableState_t *isActive)
{ return nvlink_check("nvmlDeviceGetNvLinkState", d, link, isActive); }
FN_EXPORT nvmlReturn_t nvmlDeviceGetNvLinkRemotePciInfo_v2(nvmlDevice_t d, unsigned int link, nvmlPciInfo_t *pci)
{ return nvlink_check("nvmlDeviceGetNvLinkRemotePciInfo_v2", d, link, pci); }
FN_EXPORT nvmlReturn_t nvmlDeviceGetNvLinkRemotePciInfo(nvmlDevice_t d, unsigned int link, nvmlPciInfo_t *pci)
{ return nvlink_check("nvmlDeviceGetNvLinkRemotePciInfo", d, link, pci); }

/* ======================================================================== */
/* Events                                                                   */
/* ======================================================================== */

/*
 * Event sets, as the device plugin's health check uses them (create a set, register the parent GPUs for
 * Xid and ECC events, wait in a loop with a 5 s timeout, free).  The simulator generates no events: a wait
 * sleeps for its timeout, without holding the node lock or the library mutex, and returns TIMEOUT, as real
 * NVML does on a healthy GPU.  A fault rule on nvmlEventSetWait_v2 (for example GPU_IS_LOST) makes it
 * return that error at once instead.
 */
#define MAX_EVENT_SETS 64
struct nvmlEventSet_st { int used; unsigned long long types[MAX_GPUS]; };
static struct nvmlEventSet_st H_set[MAX_EVENT_SETS];

static struct nvmlEventSet_st *set_ptr(nvmlEventSet_t s)
{
    return (s && IN_TABLE(s, H_set) && s->used) ? s : NULL;
}

/* What a data-centre GPU with ECC enabled supports: single/double-bit ECC, P-state, Xid critical errors and
 * clock changes [inferred: the mask of an A100/H100 as nvidia-smi -q and DCGM report it; the simulator has
 * no power-source, ECC-storm or retirement events]. */
#define SUPPORTED_EVENTS (nvmlEventTypeSingleBitEccError | nvmlEventTypeDoubleBitEccError | nvmlEventTypePState | \
                          nvmlEventTypeXidCriticalError | nvmlEventTypeClock)

FN_EXPORT nvmlReturn_t nvmlEventSetCreate(nvmlEventSet_t *set)
{
    int i;
    BEGIN("nvmlEventSetCreate", -1);
    if (!set)
        END(NVML_ERROR_INVALID_ARGUMENT);
    for (i = 0; i < MAX_EVENT_SETS; i++)
        if (!H_set[i].used) {
            memset(&H_set[i], 0, sizeof H_set[i]);
            H_set[i].used = 1;
            *set = &H_set[i];
            END(NVML_SUCCESS);
        }
    END(NVML_ERROR_MEMORY);   /* more live sets than the table holds [inferred code] */
}

FN_EXPORT nvmlReturn_t nvmlEventSetFree(nvmlEventSet_t set)
{
    struct nvmlEventSet_st *p;
    BEGIN("nvmlEventSetFree", -1);
    p = set_ptr(set);
    if (!p)
        END(NVML_ERROR_UNKNOWN);   /* nvml.h lists no INVALID_ARGUMENT for a bad set [inferred] */
    memset(p, 0, sizeof *p);
    END(NVML_SUCCESS);
}

/* Physical GPUs only; a MIG handle: INVALID_ARGUMENT, as for the other physical-GPU calls [inferred]. */
FN_EXPORT nvmlReturn_t nvmlDeviceGetSupportedEventTypes(nvmlDevice_t device, unsigned long long *eventTypes)
{
    BEGIN("nvmlDeviceGetSupportedEventTypes", dev_gpu(device));
    if (!eventTypes || !phys(device, NULL))
        END(NVML_ERROR_INVALID_ARGUMENT);
    *eventTypes = SUPPORTED_EVENTS;
    END(NVML_SUCCESS);
}

/* nvml.h: NOT_SUPPORTED when some requested type is unsupported, and then nothing is registered. */
FN_EXPORT nvmlReturn_t nvmlDeviceRegisterEvents(nvmlDevice_t device, unsigned long long eventTypes, nvmlEventSet_t set)
{
    int g = 0;
    struct nvmlEventSet_st *p;
    BEGIN("nvmlDeviceRegisterEvents", dev_gpu(device));
    p = set_ptr(set);
    if (!p || !phys(device, &g))
        END(NVML_ERROR_INVALID_ARGUMENT);
    if (eventTypes & ~(unsigned long long)SUPPORTED_EVENTS)
        END(NVML_ERROR_NOT_SUPPORTED);
    p->types[g] |= eventTypes;
    END(NVML_SUCCESS);
}

static nvmlReturn_t event_wait(const char *fn, nvmlEventSet_t set, nvmlEventData_t *data, unsigned int timeoutms)
{
    struct timespec ts;
    BEGIN(fn, -1);
    if (!data || !set_ptr(set))
        END(NVML_ERROR_INVALID_ARGUMENT);
    end_call(NVML_ERROR_TIMEOUT);   /* logged, node lock and library mutex released before the wait */
    ts.tv_sec = timeoutms / 1000;
    ts.tv_nsec = (long)(timeoutms % 1000) * 1000000L;
    while (nanosleep(&ts, &ts) != 0) {
    }
    return NVML_ERROR_TIMEOUT;
}

FN_EXPORT nvmlReturn_t nvmlEventSetWait_v2(nvmlEventSet_t s, nvmlEventData_t *d, unsigned int t)
{ return event_wait("nvmlEventSetWait_v2", s, d, t); }
FN_EXPORT nvmlReturn_t nvmlEventSetWait(nvmlEventSet_t s, nvmlEventData_t *d, unsigned int t)
{ return event_wait("nvmlEventSetWait", s, d, t); }

/* ======================================================================== */
/* Processes                                                                */
/* ======================================================================== */

/*
 * Count-query protocol of nvml.md §2.6: NULL array or too small *infoCount ->
 * INSUFFICIENT_SIZE with the needed count (SUCCESS when there are none).
 * Parent GPU: every process of the GPU (with GI/CI ids when MIG is enabled);
 * MIG handle: only that CI's processes.  All simulated processes are compute
 * processes; the graphics variants always report none.
 */
static nvmlReturn_t procs(const char *fn, nvmlDevice_t device, unsigned int *infoCount, void *infos, int v1, int graphics)
{
    int g, gi, ci, k, i;
    unsigned n = 0, w = 0;
    BEGIN(fn, dev_gpu(device));
    k = dev_resolve(device, &g, &gi, &ci);
    if (k < 0 || !infoCount)
        END(NVML_ERROR_INVALID_ARGUMENT);
    for (i = 0; !graphics && i < S.nproc; i++)
        if (S.proc[i].gpu == g && (k == 0 || (S.proc[i].gi == gi && S.proc[i].ci == ci)))
            n++;
    if (n == 0) {
        *infoCount = 0;
        END(NVML_SUCCESS);
    }
    if (!infos || *infoCount < n) {
        *infoCount = n;
        END(NVML_ERROR_INSUFFICIENT_SIZE);
    }
    for (i = 0; i < S.nproc; i++) {
        const proc_t *p = &S.proc[i];
        if (p->gpu != g || !(k == 0 || (p->gi == gi && p->ci == ci)))
            continue;
        if (v1) {
            nvmlProcessInfo_v1_t *o = (nvmlProcessInfo_v1_t *)infos + w;
            o->pid = p->pid;
            o->usedGpuMemory = p->used_mib << 20;
        } else {
            nvmlProcessInfo_t *o = (nvmlProcessInfo_t *)infos + w;
            int mig_on = S.gpu[g].mode;
            o->pid = p->pid;
            o->usedGpuMemory = p->used_mib << 20;
            o->gpuInstanceId = (mig_on && p->gi >= 0) ? (unsigned)p->gi : NVML_INSTANCE_ID_INVALID;
            o->computeInstanceId = (mig_on && p->ci >= 0) ? (unsigned)p->ci : NVML_INSTANCE_ID_INVALID;
        }
        w++;
    }
    *infoCount = w;
    END(NVML_SUCCESS);
}

FN_EXPORT nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v3(nvmlDevice_t d, unsigned int *c, nvmlProcessInfo_t *i)
{ return procs("nvmlDeviceGetComputeRunningProcesses_v3", d, c, i, 0, 0); }
FN_EXPORT nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v2(nvmlDevice_t d, unsigned int *c, nvmlProcessInfo_t *i)
{ return procs("nvmlDeviceGetComputeRunningProcesses_v2", d, c, i, 0, 0); }
FN_EXPORT nvmlReturn_t nvmlDeviceGetComputeRunningProcesses(nvmlDevice_t d, unsigned int *c, nvmlProcessInfo_v1_t *i)
{ return procs("nvmlDeviceGetComputeRunningProcesses", d, c, i, 1, 0); }
FN_EXPORT nvmlReturn_t nvmlDeviceGetGraphicsRunningProcesses_v3(nvmlDevice_t d, unsigned int *c, nvmlProcessInfo_t *i)
{ return procs("nvmlDeviceGetGraphicsRunningProcesses_v3", d, c, i, 0, 1); }
FN_EXPORT nvmlReturn_t nvmlDeviceGetGraphicsRunningProcesses_v2(nvmlDevice_t d, unsigned int *c, nvmlProcessInfo_t *i)
{ return procs("nvmlDeviceGetGraphicsRunningProcesses_v2", d, c, i, 0, 1); }
FN_EXPORT nvmlReturn_t nvmlDeviceGetGraphicsRunningProcesses(nvmlDevice_t d, unsigned int *c, nvmlProcessInfo_v1_t *i)
{ return procs("nvmlDeviceGetGraphicsRunningProcesses", d, c, i, 1, 1); }
