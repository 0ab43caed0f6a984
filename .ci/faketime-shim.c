/* Preloaded before libfaketime in CI's shifted-clock runs (.ci/run, .ci/calendar).
 *
 * Only the wall clock is to be shifted; everything that measures intervals must reach glibc and
 * the kernel untouched. libfaketime 0.9.10 (Debian bookworm) gets in the way of that in three
 * places, even with FAKETIME_DONT_FAKE_MONOTONIC=1:
 * - clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME), how Python 3.11+ sleeps, reaches the kernel
 *   with a negative time and fails with EINVAL (libfaketime issue #426);
 * - pthread_cond_timedwait, which CPython's GIL hand-over calls on a CLOCK_MONOTONIC condition
 *   variable, goes through libfaketime's wrapper: measured 47x the futex calls of a plain run,
 *   and pytest-xdist's workers (threads for execnet) at a tenth of their speed;
 * - clock_gettime of the monotonic and CPU clocks, called on every GIL switch, takes
 *   libfaketime's path too.
 * So those go straight to glibc (looked up in libc itself: RTLD_NEXT would find libfaketime's
 * versioned copies), and CLOCK_REALTIME goes on to libfaketime. CPython waits on monotonic
 * clocks only, so no caller here hands pthread_cond_timedwait a shifted wall-clock deadline. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static void *libc(void) {
    static void *handle;
    if (!handle) handle = dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);
    return handle;
}

typedef int (*clock_nanosleep_fn)(clockid_t, int, const struct timespec *, struct timespec *);

int clock_nanosleep(clockid_t clock_id, int flags, const struct timespec *req,
                    struct timespec *rem) {
    if (clock_id == CLOCK_MONOTONIC) {
        /* the libc call returns the error number instead of setting errno */
        return syscall(SYS_clock_nanosleep, clock_id, flags, req, rem) == 0 ? 0 : errno;
    }
    clock_nanosleep_fn next = (clock_nanosleep_fn)dlsym(RTLD_NEXT, "clock_nanosleep");
    return next ? next(clock_id, flags, req, rem) : ENOSYS;
}

typedef int (*cond_timedwait_fn)(pthread_cond_t *, pthread_mutex_t *, const struct timespec *);

int pthread_cond_timedwait(pthread_cond_t *cond, pthread_mutex_t *mutex,
                           const struct timespec *abstime) {
    static cond_timedwait_fn real;
    if (!real) real = (cond_timedwait_fn)dlvsym(libc(), "pthread_cond_timedwait", "GLIBC_2.3.2");
    return real ? real(cond, mutex, abstime) : ENOSYS;
}

typedef int (*clock_gettime_fn)(clockid_t, struct timespec *);

int clock_gettime(clockid_t clock_id, struct timespec *tp) {
    static clock_gettime_fn real, shifted;
    if (clock_id == CLOCK_REALTIME || clock_id == CLOCK_REALTIME_COARSE) {
        if (!shifted) shifted = (clock_gettime_fn)dlsym(RTLD_NEXT, "clock_gettime");
        return shifted(clock_id, tp);
    }
    if (!real) real = (clock_gettime_fn)dlvsym(libc(), "clock_gettime", "GLIBC_2.17");
    return real(clock_id, tp);
}
