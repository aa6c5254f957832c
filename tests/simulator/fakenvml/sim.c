/*
 * Simulator control functions (not part of NVML).  simnode.py and nvidia_smi.py call
 * them through ctypes so that all state semantics (create, reset, reboot, processes,
 * driver load/unload, faults) live here, in one place, next to the NVML model.
 *
 *   int fakeNvmlSimCommand(const char *statePath, int argc, const char **argv,
 *                          char *out, unsigned int outLen);
 *       Runs one command under the node lock.  Returns 0 on success (out: JSON or a
 *       message), -1 for bad input (out: the error message), or an NVML return code
 *       for a simulated failure, e.g. 19 (IN_USE) for a GPU reset while busy.
 *   int fakeNvmlSimStructSize(const char *name);
 *       sizeof() of an NVML struct as compiled into the fake, -1 if unknown.
 *
 * Commands (argv[0]) and their arguments are documented in tests/simulator/README.md.
 */
#define _GNU_SOURCE
#include "internal.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    char *buf;
    unsigned len, cap;
    int overflow;
} sb_t;

static void sb_add(sb_t *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_add(sb_t *sb, const char *fmt, ...)
{
    va_list ap;
    int n;
    if (sb->overflow || sb->cap == 0)
        return;
    va_start(ap, fmt);
    n = vsnprintf(sb->buf + sb->len, sb->cap - sb->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (unsigned)n >= sb->cap - sb->len) {
        sb->overflow = 1;
        sb->buf[sb->len] = 0;
        return;
    }
    sb->len += (unsigned)n;
}

static int fail(sb_t *sb, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(sb_t *sb, int code, const char *fmt, ...)
{
    va_list ap;
    if (sb->cap) {
        va_start(ap, fmt);
        vsnprintf(sb->buf, sb->cap, fmt, ap);
        va_end(ap);
    }
    return code;
}

static int parse_int(const char *s, int *out)
{
    char *end;
    long v;
    if (!s || !*s)
        return -1;
    v = strtol(s, &end, 0);
    if (*end)
        return -1;
    *out = (int)v;
    return 0;
}

static int valid_token(const char *s)
{
    if (!s || !*s || strlen(s) > 60)
        return 0;
    for (; *s; s++)
        if (isspace((unsigned char)*s) || *s == '"' || *s == '\\' || *s == '#')
            return 0;
    return 1;
}

static void list_models(sb_t *sb)
{
    int i;
    for (i = 0; i < model_count(); i++)
        sb_add(sb, "%s%s", i ? ", " : "", model_at(i)->key);
}

/* ---- state transitions shared by reset / reboot / driver unload ------------ */

/* GPU reset (nvml.md §5.9): instances gone; Ampere activates the pending mode;
 * Hopper+ loses the MIG mode (driver-controlled, not persistent). */
static void gpu_reset_state(gpu_t *gp)
{
    gpu_clear_instances(gp);
    if (!gp->m->mig)
        return;
    if (gp->m->persistent)
        gp->mode = gp->pending;
    else
        gp->mode = gp->pending = 0;
}

static void json_state(sb_t *sb, const state_t *st)
{
    int i, g, gi, ci, first;
    sb_add(sb, "{\"node\": \"%s\", \"driver_version\": \"%s\", \"cuda_version\": %d, \"driver_loaded\": %s, \"options\": {",
           st->node, st->driver, st->cuda, st->loaded ? "true" : "false");
    for (i = 0; i < st->nopt; i++)
        sb_add(sb, "%s\"%s\": \"%s\"", i ? ", " : "", st->opt_key[i], st->opt_val[i]);
    sb_add(sb, "}, \"gpus\": [");
    for (g = 0; g < st->ngpu; g++) {
        const gpu_t *gp = &st->gpu[g];
        const model_t *m = gp->m;
        sb_add(sb, "%s{\"index\": %d, \"model\": \"%s\", \"name\": \"%s\", \"uuid\": \"%s\", \"pci_bus_id\": \"%s\", "
                   "\"serial\": \"%s\", \"pci_device_id\": %u, \"architecture\": %d, \"compute_capability\": \"%d.%d\", "
                   "\"memory_total_mib\": %llu, \"mig_capable\": %s, \"mig_mode_persistent\": %s, "
                   "\"mig_mode_current\": %d, \"mig_mode_pending\": %d, \"reset_blocked\": %s, \"vbios_version\": %s%s%s, "
                   "\"gpu_instances\": [",
               g ? ", " : "", g, gp->model, m->name, gp->uuid, gp->bus, gp->serial, m->pci_dev, m->arch,
               m->cc_major, m->cc_minor, m->total_mib, m->mig ? "true" : "false", m->persistent ? "true" : "false",
               gp->mode, gp->pending, gp->reset_blocked ? "true" : "false", gp->vbios[0] ? "\"" : "",
               gp->vbios[0] ? gp->vbios : "null", gp->vbios[0] ? "\"" : "");
        first = 1;
        for (gi = 0; gi < MAX_GI; gi++) {
            const gi_t *x = &gp->gi[gi];
            const gprof_t *p;
            if (!x->used)
                continue;
            p = model_prof_by_id(m, x->profile);
            sb_add(sb, "%s{\"id\": %d, \"profile_id\": %d, \"profile\": \"%s\", \"start\": %d, \"size\": %d, "
                       "\"memory_mib\": %llu, \"compute_instances\": [",
                   first ? "" : ", ", gi, x->profile, p ? p->name : "?", x->start, x->size, p ? p->mem_mib : 0ULL);
            first = 0;
            for (ci = 0, i = 1; ci < MAX_CI; ci++) {
                const ci_t *c = &x->ci[ci];
                char name[96], uuid[64];
                if (!c->used)
                    continue;
                if (p)
                    ci_profile_name(m, p, c->profile, name, sizeof name);
                else
                    snprintf(name, sizeof name, "?");
                mig_uuid(gp, gi, ci, uuid, sizeof uuid);
                sb_add(sb, "%s{\"id\": %d, \"profile_id\": %d, \"profile\": \"%s\", \"start\": %d, \"size\": %d, \"uuid\": \"%s\"}",
                       i ? "" : ", ", ci, c->profile, name + 4, c->start, c->size, uuid);
                i = 0;
            }
            sb_add(sb, "]}");
        }
        sb_add(sb, "]}");
    }
    sb_add(sb, "], \"processes\": [");
    for (i = 0; i < st->nproc; i++) {
        const proc_t *p = &st->proc[i];
        char a[16], b[16];
        if (p->gi >= 0) snprintf(a, sizeof a, "%d", p->gi); else snprintf(a, sizeof a, "null");
        if (p->ci >= 0) snprintf(b, sizeof b, "%d", p->ci); else snprintf(b, sizeof b, "null");
        sb_add(sb, "%s{\"pid\": %u, \"gpu\": %d, \"used_mib\": %llu, \"gpu_instance_id\": %s, \"compute_instance_id\": %s}",
               i ? ", " : "", p->pid, p->gpu, p->used_mib, a, b);
    }
    sb_add(sb, "], \"faults\": [");
    for (i = 0; i < st->nfault; i++) {
        const fault_t *f = &st->fault[i];
        char a[16];
        if (f->gpu >= 0) snprintf(a, sizeof a, "%d", f->gpu); else snprintf(a, sizeof a, "null");
        sb_add(sb, "%s{\"function\": \"%s\", \"nth\": %d, \"repeat\": %s, \"gpu\": %s, \"error\": %d, "
                   "\"error_name\": \"%s\", \"stall_ms\": %d, \"calls_seen\": %d}",
               i ? ", " : "", f->func, f->nth, f->repeat ? "true" : "false", a, f->error,
               f->error ? error_name(f->error) : "", f->stall_ms, f->hits);
    }
    sb_add(sb, "]}");
}

static int cmd_create(const char *path, int argc, const char **argv, sb_t *sb)
{
    /* create NODE DRIVER CUDA MIGSPEC FORCE MODEL... */
    static state_t st;
    int i, force, cuda;
    char seed[128], lp[4200];
    static const int buses[8] = {0x07, 0x0F, 0x47, 0x4E, 0x87, 0x90, 0xB7, 0xBD};
    if (argc < 6)
        return fail(sb, -1, "usage: create NODE DRIVER CUDA MIGSPEC FORCE MODEL...");
    if (!valid_token(argv[1]))
        return fail(sb, -1, "invalid node name '%s'", argv[1]);
    if (!valid_token(argv[2]) || !isdigit((unsigned char)argv[2][0]) || !strchr(argv[2], '.'))
        return fail(sb, -1, "invalid driver version '%s' (expected e.g. 550.54.15)", argv[2]);
    if (parse_int(argv[3], &cuda) != 0 || cuda < 1000)
        return fail(sb, -1, "invalid CUDA version '%s' (expected an integer like 12040)", argv[3]);
    force = !strcmp(argv[5], "1");
    if (!force && access(path, F_OK) == 0)
        return fail(sb, -1, "state file %s already exists (use --force to overwrite)", path);
    if (argc - 6 > MAX_GPUS)
        return fail(sb, -1, "at most %d GPUs per node", MAX_GPUS);
    memset(&st, 0, sizeof st);
    snprintf(st.node, sizeof st.node, "%s", argv[1]);
    snprintf(st.driver, sizeof st.driver, "%s", argv[2]);
    st.cuda = cuda;
    st.loaded = 1;
    for (i = 6; i < argc; i++) {
        gpu_t *gp = &st.gpu[st.ngpu];
        const model_t *m = model_find(argv[i]);
        int bus = st.ngpu < 8 ? buses[st.ngpu] : 0xC0 + st.ngpu;
        unsigned long long h = 0;
        const char *c;
        if (!m) {
            sb_add(sb, "unknown GPU model '%s'; valid models: ", argv[i]);
            list_models(sb);
            return -1;
        }
        snprintf(gp->model, sizeof gp->model, "%s", m->key);
        gp->m = m;
        snprintf(seed, sizeof seed, "%s/%d", st.node, st.ngpu);
        make_uuid("GPU", seed, gp->uuid, sizeof gp->uuid);
        for (c = gp->uuid; *c; c++)
            h = h * 31 + (unsigned char)*c;
        snprintf(gp->serial, sizeof gp->serial, "1324%09llu", h % 1000000000ULL);
        snprintf(gp->bus, sizeof gp->bus, "%08X:%02X:00.0", 0, bus);
        st.ngpu++;
    }
    if (!strcmp(argv[4], "all")) {
        for (i = 0; i < st.ngpu; i++)
            if (st.gpu[i].m->mig)
                st.gpu[i].mode = st.gpu[i].pending = 1;
    } else if (strcmp(argv[4], "none") != 0) {
        char buf[128], *tok, *save = NULL;
        snprintf(buf, sizeof buf, "%s", argv[4]);
        for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
            int idx;
            if (parse_int(tok, &idx) != 0 || idx < 0 || idx >= st.ngpu)
                return fail(sb, -1, "--mig-enabled: invalid GPU index '%s' (node has %d GPUs)", tok, st.ngpu);
            if (!st.gpu[idx].m->mig)
                return fail(sb, -1, "--mig-enabled: GPU %d (%s) does not support MIG", idx, st.gpu[idx].model);
            st.gpu[idx].mode = st.gpu[idx].pending = 1;
        }
    }
    if (state_save(path, &st) != 0)
        return fail(sb, -1, "cannot write state file %s", path);
    snprintf(lp, sizeof lp, "%s.calls", path);
    unlink(lp);
    sb_add(sb, "created node %s with %d GPU(s) in %s", st.node, st.ngpu, path);
    return 0;
}

static int get_gpu(const char *s, sb_t *sb, int *g)
{
    if (parse_int(s, g) != 0 || *g < 0 || *g >= S.ngpu)
        return fail(sb, -1, "invalid GPU index '%s' (node has %d GPUs)", s, S.ngpu);
    return 0;
}

static int cmd_locked(const char *path, int argc, const char **argv, sb_t *sb, int *dirty)
{
    const char *cmd = argv[0];
    int g, i;
    if (!strcmp(cmd, "show")) {
        json_state(sb, &S);
        return 0;
    }
    if (!strcmp(cmd, "process-add")) {
        /* process-add GPU GI CI PID USED_MIB   (GI/CI "-" for none) */
        proc_t p;
        int pid;
        if (argc != 6)
            return fail(sb, -1, "usage: process-add GPU GI CI PID USED_MIB");
        if (get_gpu(argv[1], sb, &g))
            return -1;
        memset(&p, 0, sizeof p);
        p.gpu = g;
        p.gi = p.ci = -1;
        if (parse_int(argv[4], &pid) != 0 || pid <= 0)
            return fail(sb, -1, "invalid pid '%s'", argv[4]);
        p.pid = (unsigned)pid;
        p.used_mib = strtoull(argv[5], NULL, 10);
        if (strcmp(argv[2], "-") != 0 || strcmp(argv[3], "-") != 0) {
            if (parse_int(argv[2], &p.gi) != 0 || parse_int(argv[3], &p.ci) != 0)
                return fail(sb, -1, "--gi and --ci must be given together as integers");
            if (!S.gpu[g].mode)
                return fail(sb, -1, "GPU %d does not have MIG mode enabled; omit --gi/--ci", g);
            if (p.gi < 0 || p.gi >= MAX_GI || !S.gpu[g].gi[p.gi].used)
                return fail(sb, -1, "GPU %d has no GPU instance %d", g, p.gi);
            if (p.ci < 0 || p.ci >= MAX_CI || !S.gpu[g].gi[p.gi].ci[p.ci].used)
                return fail(sb, -1, "GPU %d GPU instance %d has no compute instance %d", g, p.gi, p.ci);
        }
        for (i = 0; i < S.nproc; i++)
            if (S.proc[i].pid == p.pid)
                return fail(sb, -1, "pid %u already exists", p.pid);
        if (S.nproc >= MAX_PROCS)
            return fail(sb, -1, "too many processes");
        S.proc[S.nproc++] = p;
        *dirty = 1;
        sb_add(sb, "added process %u on GPU %d", p.pid, g);
        return 0;
    }
    if (!strcmp(cmd, "process-remove")) {
        int pid;
        if (argc != 2 || parse_int(argv[1], &pid) != 0)
            return fail(sb, -1, "usage: process-remove PID");
        for (i = 0; i < S.nproc; i++)
            if (S.proc[i].pid == (unsigned)pid) {
                memmove(&S.proc[i], &S.proc[i + 1], sizeof(proc_t) * (size_t)(S.nproc - i - 1));
                S.nproc--;
                *dirty = 1;
                sb_add(sb, "removed process %d", pid);
                return 0;
            }
        return fail(sb, -1, "no process with pid %d", pid);
    }
    if (!strcmp(cmd, "process-clear")) {
        S.nproc = 0;
        *dirty = 1;
        return 0;
    }
    if (!strcmp(cmd, "reset")) {
        /* reset GPU: fails while busy (IN_USE) or when the GPU cannot be reset (passthrough VM:
         * NOT_SUPPORTED [inferred]) */
        if (argc != 2 || get_gpu(argv[1], sb, &g))
            return argc != 2 ? fail(sb, -1, "usage: reset GPU") : -1;
        if (gpu_busy(&S, g))
            return fail(sb, 19, "In use by another client");
        if (S.gpu[g].reset_blocked)
            return fail(sb, 3, "Not Supported");
        gpu_reset_state(&S.gpu[g]);
        *dirty = 1;
        sb_add(sb, "GPU %d reset", g);
        return 0;
    }
    if (!strcmp(cmd, "reboot")) {
        S.nproc = 0;
        for (g = 0; g < S.ngpu; g++)
            gpu_reset_state(&S.gpu[g]);
        *dirty = 1;
        sb_add(sb, "node %s rebooted", S.node);
        return 0;
    }
    if (!strcmp(cmd, "driver-load")) {
        S.loaded = 1;
        *dirty = 1;
        return 0;
    }
    if (!strcmp(cmd, "driver-unload")) {
        if (S.nproc)
            return fail(sb, 19, "the driver is in use by %d process(es); remove them first", S.nproc);
        S.loaded = 0;
        for (g = 0; g < S.ngpu; g++)   /* unloading loses all instances, and the mode on Hopper+ */
            gpu_reset_state(&S.gpu[g]);
        *dirty = 1;
        return 0;
    }
    if (!strcmp(cmd, "driver-version")) {
        int cuda;
        if (argc != 3 || !valid_token(argv[1]) || !isdigit((unsigned char)argv[1][0]))
            return fail(sb, -1, "usage: driver-version VERSION CUDA|-");
        snprintf(S.driver, sizeof S.driver, "%s", argv[1]);
        if (strcmp(argv[2], "-") != 0) {
            if (parse_int(argv[2], &cuda) != 0 || cuda < 1000)
                return fail(sb, -1, "invalid CUDA version '%s'", argv[2]);
            S.cuda = cuda;
        }
        *dirty = 1;
        return 0;
    }
    if (!strcmp(cmd, "reset-blocked")) {
        if (argc != 3 || get_gpu(argv[1], sb, &g))
            return argc != 3 ? fail(sb, -1, "usage: reset-blocked GPU yes|no") : -1;
        if (strcmp(argv[2], "yes") && strcmp(argv[2], "no"))
            return fail(sb, -1, "reset-blocked must be yes or no");
        S.gpu[g].reset_blocked = !strcmp(argv[2], "yes");
        *dirty = 1;
        return 0;
    }
    if (!strcmp(cmd, "vbios")) {
        /* vbios GPU VERSION|- : the version nvmlDeviceGetVbiosVersion reports; '-': none (NOT_SUPPORTED) */
        size_t n;
        if (argc != 3 || get_gpu(argv[1], sb, &g))
            return argc != 3 ? fail(sb, -1, "usage: vbios GPU VERSION|-") : -1;
        n = strlen(argv[2]);
        if (strcmp(argv[2], "-") && (n == 0 || n >= sizeof S.gpu[g].vbios || strspn(argv[2], "0123456789abcdefABCDEF.") != n))
            return fail(sb, -1, "invalid vBIOS version '%s' (expected hex fields such as 98.02.6A.00.00, or -)", argv[2]);
        snprintf(S.gpu[g].vbios, sizeof S.gpu[g].vbios, "%s", strcmp(argv[2], "-") ? argv[2] : "");
        *dirty = 1;
        return 0;
    }
    if (!strcmp(cmd, "option")) {
        static const char *const keys[] = {"disable_with_instances", "pending", "error",
                                           "ampere_auto_reset", "yes", "no"};
        int ok = 0;
        if (argc != 3)
            return fail(sb, -1, "usage: option KEY VALUE");
        for (i = 0; i < 6; i += 3)
            if (!strcmp(argv[1], keys[i])) {
                ok = 1;
                if (strcmp(argv[2], keys[i + 1]) && strcmp(argv[2], keys[i + 2]))
                    return fail(sb, -1, "option %s: value must be %s or %s", keys[i], keys[i + 1], keys[i + 2]);
            }
        if (!ok)
            return fail(sb, -1, "unknown option '%s'; known options: disable_with_instances (pending|error), "
                                "ampere_auto_reset (yes|no)", argv[1]);
        for (i = 0; i < S.nopt; i++)
            if (!strcmp(S.opt_key[i], argv[1]))
                break;
        if (i == S.nopt) {
            if (S.nopt >= MAX_OPTIONS)
                return fail(sb, -1, "too many options");
            S.nopt++;
        }
        snprintf(S.opt_key[i], sizeof S.opt_key[i], "%s", argv[1]);
        snprintf(S.opt_val[i], sizeof S.opt_val[i], "%s", argv[2]);
        *dirty = 1;
        return 0;
    }
    if (!strcmp(cmd, "fault-add")) {
        /* fault-add FUNCTION NTH REPEAT(0|1) GPU|- ERROR|- STALL_MS */
        fault_t f;
        memset(&f, 0, sizeof f);
        if (argc != 7)
            return fail(sb, -1, "usage: fault-add FUNCTION NTH REPEAT GPU ERROR STALL_MS");
        if (!function_known(argv[1], NULL))
            return fail(sb, -1, "unknown NVML function '%s' (not exported by the fake)", argv[1]);
        snprintf(f.func, sizeof f.func, "%s", argv[1]);
        if (parse_int(argv[2], &f.nth) != 0 || f.nth < 1)
            return fail(sb, -1, "--nth must be >= 1");
        f.repeat = !strcmp(argv[3], "1");
        f.gpu = -1;
        if (strcmp(argv[4], "-") != 0 && get_gpu(argv[4], sb, &f.gpu))
            return -1;
        if (strcmp(argv[5], "-") != 0) {
            f.error = error_code_from_name(argv[5]);
            if (f.error <= 0)
                return fail(sb, -1, "unknown NVML error '%s' (use a name like IN_USE or a number)", argv[5]);
        }
        if (parse_int(argv[6], &f.stall_ms) != 0 || f.stall_ms < 0)
            return fail(sb, -1, "--stall-ms must be >= 0");
        if (!f.error && !f.stall_ms)
            return fail(sb, -1, "a fault needs --error and/or --stall-ms");
        if (S.nfault >= MAX_FAULTS)
            return fail(sb, -1, "too many fault rules");
        S.fault[S.nfault++] = f;
        *dirty = 1;
        return 0;
    }
    if (!strcmp(cmd, "fault-clear")) {
        S.nfault = 0;
        *dirty = 1;
        return 0;
    }
    (void)path;
    return fail(sb, -1, "unknown command '%s'", cmd);
}

FN_EXPORT int fakeNvmlSimCommand(const char *path, int argc, const char **argv, char *out, unsigned int outLen)
{
    sb_t sb;
    int fd, rc, dirty = 0;
    char err[512];
    sb.buf = out;
    sb.cap = out ? outLen : 0;
    sb.len = 0;
    sb.overflow = 0;
    if (out && outLen)
        out[0] = 0;
    if (argc < 1 || !argv || !argv[0])
        return fail(&sb, -1, "no command");
    if (model_error()[0])
        return fail(&sb, -1, "model data: %s", model_error());
    if (!strcmp(argv[0], "models")) {
        int i;
        sb_add(&sb, "[");
        for (i = 0; i < model_count(); i++)
            sb_add(&sb, "%s{\"key\": \"%s\", \"name\": \"%s\", \"mig\": %s, \"architecture\": %d}", i ? ", " : "",
                   model_at(i)->key, model_at(i)->name, model_at(i)->mig ? "true" : "false", model_at(i)->arch);
        sb_add(&sb, "]");
        return sb.overflow ? -2 : 0;
    }
    if (!strcmp(argv[0], "functions")) {
        int i, mut = 0;
        const char *n;
        sb_add(&sb, "{");
        for (i = 0; (n = function_name_at(i)) != NULL; i++) {
            function_known(n, &mut);
            sb_add(&sb, "%s\"%s\": %s", i ? ", " : "", n, mut ? "true" : "false");
        }
        sb_add(&sb, "}");
        return sb.overflow ? -2 : 0;
    }
    if (!path || !*path)
        return fail(&sb, -1, "no state file given");
    fd = state_lock(path);
    if (fd < 0)
        return fail(&sb, -1, "cannot lock %s.lock", path);
    if (!strcmp(argv[0], "create")) {
        rc = cmd_create(path, argc, argv, &sb);
    } else if (state_load(path, &S, err, sizeof err) != 0) {
        rc = fail(&sb, -1, "%s", err);
    } else {
        rc = cmd_locked(path, argc, argv, &sb, &dirty);
        if (rc == 0 && dirty && state_save(path, &S) != 0)
            rc = fail(&sb, -1, "cannot write state file %s", path);
    }
    state_unlock(fd);
    if (rc == 0 && sb.overflow)
        return -2;   /* output buffer too small */
    return rc;
}

FN_EXPORT int fakeNvmlSimStructSize(const char *name)
{
    static const struct { const char *n; int size; } t[] = {
        {"nvmlPciInfo_t", (int)sizeof(nvmlPciInfo_t)},
        {"nvmlMemory_t", (int)sizeof(nvmlMemory_t)},
        {"nvmlMemory_v2_t", (int)sizeof(nvmlMemory_v2_t)},
        {"nvmlProcessInfo_v1_t", (int)sizeof(nvmlProcessInfo_v1_t)},
        {"nvmlProcessInfo_t", (int)sizeof(nvmlProcessInfo_t)},
        {"nvmlGpuInstancePlacement_t", (int)sizeof(nvmlGpuInstancePlacement_t)},
        {"nvmlGpuInstanceProfileInfo_t", (int)sizeof(nvmlGpuInstanceProfileInfo_t)},
        {"nvmlGpuInstanceProfileInfo_v2_t", (int)sizeof(nvmlGpuInstanceProfileInfo_v2_t)},
        {"nvmlGpuInstanceProfileInfo_v3_t", (int)sizeof(nvmlGpuInstanceProfileInfo_v3_t)},
        {"nvmlGpuInstanceInfo_t", (int)sizeof(nvmlGpuInstanceInfo_t)},
        {"nvmlComputeInstancePlacement_t", (int)sizeof(nvmlComputeInstancePlacement_t)},
        {"nvmlComputeInstanceProfileInfo_t", (int)sizeof(nvmlComputeInstanceProfileInfo_t)},
        {"nvmlComputeInstanceProfileInfo_v2_t", (int)sizeof(nvmlComputeInstanceProfileInfo_v2_t)},
        {"nvmlComputeInstanceProfileInfo_v3_t", (int)sizeof(nvmlComputeInstanceProfileInfo_v3_t)},
        {"nvmlComputeInstanceInfo_t", (int)sizeof(nvmlComputeInstanceInfo_t)},
    };
    size_t i;
    for (i = 0; name && i < sizeof t / sizeof t[0]; i++)
        if (!strcmp(name, t[i].n))
            return t[i].size;
    return -1;
}
