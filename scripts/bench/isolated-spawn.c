// isolated-spawn: what the executor's own isolation costs, with nothing of the worker around it.
//
// Rounds alternate two loops on 2 threads, 2,000 /bin/true each per thread:
// - bare: posix_spawn + waitpid, the spawn floor of teleops-bench --dispatch-only;
// - isolated: the executor's own teleops_spawn (Sources/CShims/process.c) with what a command
//   gets (its own process group, every signal reset, stdin from /dev/null, stdout and stderr on
//   a pipe, every other fd closed at exec, CPU, address-space and open-files limits, a working
//   directory, an environment of its own), the pipe polled to its end, then waitpid.
// The ratio isolated / bare says how much of the gap between the workers and the floor the
// isolation itself is; the rest is the broker, the agents and ZeroMQ.
//
//   cc -O2 -I Sources/CShims/include -o /tmp/isolated-spawn scripts/bench/isolated-spawn.c Sources/CShims/process.c -lpthread
//   /tmp/isolated-spawn [ROUNDS]
#define _GNU_SOURCE
#include "CShimsProcess.h"
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

enum { PER_THREAD = 2000, THREADS = 2 };
static int isolated;

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void run_isolated(char **argv, char **envp) {
    int pipe_fds[2];
    if (pipe2(pipe_fds, O_CLOEXEC) != 0) exit(1);
    struct teleops_spawn_plan plan = {0};
    plan.path = "/bin/true";
    plan.argv = argv;
    plan.envp = envp;
    plan.directory = "/tmp";
    plan.new_session = 0;
    plan.tty_fd = -1;
    plan.stdin_fd = -1;
    plan.output_fd = pipe_fds[1];
    plan.apply_limits = 1;
    plan.cpu_seconds = 60;
    plan.address_space_bytes = 1LL << 32;
    plan.open_files = 256;
    plan.processes = -1;
    struct teleops_spawn_failure failure;
    pid_t pid = teleops_spawn(&plan, &failure);
    close(pipe_fds[1]);
    if (pid < 0) {
        fprintf(stderr, "spawn failed at stage %d: errno %d\n", failure.stage, failure.error);
        exit(1);
    }
    char buffer[4096];
    struct pollfd item = {pipe_fds[0], POLLIN, 0};
    for (;;) {
        if (poll(&item, 1, -1) < 0) continue;
        if (read(pipe_fds[0], buffer, sizeof buffer) <= 0) break;
    }
    close(pipe_fds[0]);
    int status;
    waitpid(pid, &status, 0);
}

static void *loop(void *unused) {
    (void)unused;
    char *argv[] = {"/bin/true", NULL};
    char *envp[] = {"PATH=/usr/bin:/bin", "LANG=C.UTF-8", NULL};
    for (int i = 0; i < PER_THREAD; i++) {
        if (isolated) {
            run_isolated(argv, envp);
        } else {
            pid_t pid;
            if (posix_spawn(&pid, "/bin/true", NULL, NULL, argv, environ) != 0) exit(1);
            int status;
            waitpid(pid, &status, 0);
        }
    }
    return NULL;
}

int main(int argc, char **argv) {
    int rounds = argc > 1 ? atoi(argv[1]) : 5;
    for (int round = 1; round <= rounds; round++) {
        double rate[2];
        for (isolated = 0; isolated < 2; isolated++) {
            pthread_t threads[THREADS];
            double start = now();
            for (int i = 0; i < THREADS; i++) pthread_create(&threads[i], NULL, loop, NULL);
            for (int i = 0; i < THREADS; i++) pthread_join(threads[i], NULL);
            rate[isolated] = THREADS * PER_THREAD / (now() - start);
        }
        printf("round %d: bare %.0f/s, isolated %.0f/s, isolated / bare %.3f\n", round, rate[0], rate[1],
               rate[1] / rate[0]);
    }
    return 0;
}
