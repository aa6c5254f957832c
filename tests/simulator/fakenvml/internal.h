/*
 * Internal model of the fake NVML: node state (persisted in the state file), GPU
 * models (embedded from tests/simulator/models/<KEY>.model), handle tables and helpers
 * shared by nvml.c (the NVML API) and sim.c (the simulator control functions).
 */
#ifndef FAKENVML_INTERNAL_H
#define FAKENVML_INTERNAL_H

#include "nvml_types.h"

#define FN_EXPORT __attribute__((visibility("default")))

#define MAX_GPUS      16
#define MAX_GI        16   /* GI ids 0..14 on 8-memory-slice GPUs (nvml.md §5.4) */
#define MAX_CI        8    /* CI ids 0..7 (mig-minors go up to ci7) */
#define MAX_PROCS     256
#define MAX_FAULTS    64
#define MAX_OPTIONS   16
#define MAX_PROFILES  24
#define MAX_PLACE     16
#define MAX_CIPROF    8    /* CI profiles offered in one GI profile */
#define MAX_COMBOS    4

/* ---- GPU models ---------------------------------------------------------- */

typedef struct {
    int en;                 /* NVML_GPU_INSTANCE_PROFILE_* enum index */
    int id;                 /* device-specific profile id */
    char name[32];          /* short name, e.g. "3g.20gb" */
    int count;              /* instanceCount */
    unsigned long long mem_mib;
    int sm, ce, dec, enc, jpeg, ofa;
    int size;               /* memory slices */
    int cslices;            /* compute (SM) slices = sliceCount */
    int nplace;
    int place[MAX_PLACE];   /* possible starts, each of `size` memory slices */
    int npref;
    int pref[MAX_PLACE];    /* driver auto-placement preference (starts) */
    char min_driver[16];    /* "" or the oldest driver that offers this profile, e.g. "470" (catalog) */
    int nci;                /* CI profiles offered in a GI of this profile (catalog, via gen_models.py) */
    struct {
        int en;             /* NVML_COMPUTE_INSTANCE_PROFILE_* == CI profile id */
        int count;          /* instanceCount */
        int sm;
        int nstart;
        int start[MAX_PLACE];   /* placement starts in compute slices */
    } ci[MAX_CIPROF];
} gprof_t;

typedef struct {
    char key[48];
    char name[96];
    unsigned int pci_dev;
    unsigned int subsys;
    int arch;
    int cc_major, cc_minor;
    unsigned long long total_mib;
    int mig;
    int mem_slices;
    int compute_slices;
    int max_mig;
    int persistent;         /* MIG mode survives reboot / GPU reset (Ampere) */
    int sm_per_slice;       /* SMs of one compute slice (only gen_models.py uses it now) */
    int nprof;
    gprof_t prof[MAX_PROFILES];
    int ncombo;             /* GI profiles that only a newer driver creates together (catalog) */
    struct { int nids; int ids[MAX_COMBOS]; char min_driver[16]; } combo[MAX_COMBOS];
    int budget_jpeg, budget_ofa;   /* media engines of the whole GPU; -1 = not modelled (catalog) */
} model_t;

const model_t *model_find(const char *key);
int model_count(void);
const model_t *model_at(int i);
const gprof_t *model_prof_by_id(const model_t *m, int id);
const gprof_t *model_prof_by_enum(const model_t *m, int en);
int driver_at_least(const char *version, const char *minimum);
const char *model_error(void);

/* ---- node state ---------------------------------------------------------- */

typedef struct { int used; int profile; int start; int size; } ci_t;
typedef struct { int used; int profile; int start; int size; ci_t ci[MAX_CI]; } gi_t;

typedef struct {
    char model[48];
    const model_t *m;
    char uuid[48];
    char bus[32];
    char serial[32];
    int mode, pending, reset_blocked;
    char vbios[32];         /* "" = not set: nvmlDeviceGetVbiosVersion answers NOT_SUPPORTED */
    gi_t gi[MAX_GI];        /* indexed by GI id */
} gpu_t;

typedef struct {
    unsigned int pid;
    int gpu;
    unsigned long long used_mib;
    int gi, ci;             /* -1 = none */
} proc_t;

typedef struct {
    char func[64];
    int nth, repeat, gpu, error, stall_ms, hits;
} fault_t;

typedef struct {
    char node[64];
    char driver[32];
    int cuda;
    int loaded;
    int nopt;
    char opt_key[MAX_OPTIONS][32];
    char opt_val[MAX_OPTIONS][64];
    int ngpu;
    gpu_t gpu[MAX_GPUS];
    int nproc;
    proc_t proc[MAX_PROCS];
    int nfault;
    fault_t fault[MAX_FAULTS];
} state_t;

extern state_t S;   /* the state of the current call, loaded under the lock */

int state_lock(const char *path);                 /* returns fd or -1 */
void state_unlock(int fd);
int state_load(const char *path, state_t *st, char *err, int errlen);
int state_save(const char *path, const state_t *st);
const char *state_option(const state_t *st, const char *key, const char *dflt);
void call_log(const char *path, const char *fn, int gpu, int rc, int mutating);

/* ---- helpers (core.c) ---------------------------------------------------- */

int gpu_busy(const state_t *st, int g);
int gi_procs(const state_t *st, int g, int gi);
int ci_procs(const state_t *st, int g, int gi, int ci);
int gi_count_cis(const gpu_t *gp, int gi);
int gi_range_free(const gpu_t *gp, int start, int size);
int gi_remaining(const gpu_t *gp, const gprof_t *p);
int gi_auto_start(const gpu_t *gp, const gprof_t *p);
int gi_new_id(const gpu_t *gp, int start, int size);
void gpu_clear_instances(gpu_t *gp);

int gi_driver_offers(const char *driver, const gprof_t *p);
int gi_create_allowed(const gpu_t *gp, const char *driver, const gprof_t *p);

/* compute-instance profiles offered inside a GI of profile gp (the catalog's table, nvml.md §5.5) */
int ci_slices_of_enum(int en);
int ci_offered(const gprof_t *gp, int en);
int ci_instance_count(const gprof_t *gp, int en);
int ci_nplacements(const gprof_t *gp, int en);
int ci_placement_start(const gprof_t *gp, int en, int i);
int ci_range_free(const gi_t *gi, int start, int size);
int ci_remaining(const gi_t *gi, const gprof_t *gp, int en);
int ci_new_id(const gi_t *gi);
void ci_profile_name(const model_t *m, const gprof_t *gp, int en, char *out, int outlen);
int ci_sm(const model_t *m, const gprof_t *gp, int en);

void make_uuid(const char *prefix, const char *seed, char *out, int outlen);
void mig_uuid(const gpu_t *gp, int gi, int ci, char *out, int outlen);
int error_code_from_name(const char *s);
const char *error_name(int code);
int function_known(const char *name, int *mutating);
const char *function_name_at(int i);

#endif
