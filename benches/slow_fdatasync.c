/* A disk of known speed, FACTOR times slower: LD_PRELOAD shim for the
 * power curves of benches/compare_noise.sh. Every fdatasync(2) is timed
 * (t) and followed by a sleep until FACTOR * (t + BASE) has passed, so
 * the disk underneath (a loop ext4 on tmpfs: fast and steady) looks like
 * one whose fdatasync takes BASE plus its own time, and every operation,
 * and with it every latency percentile, is multiplied by FACTOR.
 * SLOW_FDATASYNC_FACTOR: 1 to 100 (default 1); SLOW_FDATASYNC_BASE_US:
 * 0 to 100000 (default 0). What the sleeps add beyond that (timer and
 * scheduler delays of a busy machine) is the noise of the medium. Timer
 * slack is set to 1 ns so sleeps are not rounded up by 50 us.
 * Build: cc -O2 -shared -fPIC -o slow_fdatasync.so slow_fdatasync.c -ldl */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <time.h>

static int (*real_fdatasync)(int);
static double factor = 1.0;
static double base_ns = 0.0;

__attribute__((constructor)) static void init(void) {
  real_fdatasync = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
  const char *s = getenv("SLOW_FDATASYNC_FACTOR");
  if (s) {
    double f = strtod(s, NULL);
    if (f >= 1.0 && f <= 100.0) factor = f;
  }
  s = getenv("SLOW_FDATASYNC_BASE_US");
  if (s) {
    double us = strtod(s, NULL);
    if (us >= 0.0 && us <= 100000.0) base_ns = us * 1e3;
  }
  prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
}

int fdatasync(int fd) {
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  int r = real_fdatasync(fd);
  int saved = errno;
  clock_gettime(CLOCK_MONOTONIC, &b);
  double t = (double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec);
  double ns = factor * (t + base_ns) - t;
  if (ns > 0.0) {
    struct timespec d = {(time_t)(ns / 1e9), (long)(ns - (double)(time_t)(ns / 1e9) * 1e9)};
    while (nanosleep(&d, &d) != 0 && errno == EINTR) {
    }
  }
  errno = saved;
  return r;
}
