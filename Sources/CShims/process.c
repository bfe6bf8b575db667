#define _GNU_SOURCE
#include "CShimsProcess.h"
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <signal.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif
#ifndef P_PIDFD
#define P_PIDFD 3
#endif

int teleops_pipe_cloexec(int fds[2]) { return pipe2(fds, O_CLOEXEC); }
int teleops_spawn_file_actions_addchdir(posix_spawn_file_actions_t *actions, const char *path) {
    return posix_spawn_file_actions_addchdir_np(actions, path);
}

int teleops_spawn_file_actions_addclosefrom(posix_spawn_file_actions_t *actions, int from) {
    return posix_spawn_file_actions_addclosefrom_np(actions, from);
}

int teleops_set_thread_name(const char *name) { return pthread_setname_np(pthread_self(), name); }
int teleops_get_thread_name(char *buffer, size_t size) { return pthread_getname_np(pthread_self(), buffer, size); }

int teleops_pidfd_send_signal(int pidfd, int signal) {
    return (int)syscall(SYS_pidfd_send_signal, pidfd, signal, NULL, 0);
}

pid_t teleops_pidfd_reap(int pidfd, int *status) {
    siginfo_t info = {0};
    if (waitid((idtype_t)P_PIDFD, (id_t)pidfd, &info, WEXITED | WNOHANG) != 0) return -1;
    if (info.si_pid == 0) return 0;
    // The same encoding as waitpid's status, so one decoder serves both.
    switch (info.si_code) {
    case CLD_EXITED: *status = (info.si_status & 0xff) << 8; break;
    case CLD_DUMPED: *status = (info.si_status & 0x7f) | 0x80; break;
    default: *status = info.si_status & 0x7f; break;
    }
    return info.si_pid;
}

// ---- The child side of teleops_spawn. Only async-signal-safe calls from here to execve: the
// parent is multithreaded, and any lock another thread held at the fork stays locked in a forked
// child. A child that shares the parent's memory (CLONE_VM) also writes nothing of the parent's
// but the failure record: it reads the plan and uses its own stack.

/// Where the child reports a failure before exec. A child that shares the parent's memory
/// (CLONE_VM) writes the record straight into the parent's `shared`, which the parent reads once
/// the child has exited; a forked child writes it down `fd`, a close-on-exec pipe.
struct child_report {
    int fd;
    struct teleops_spawn_failure *shared;
};

/// Tells the parent where and why we stopped, then exits without running any atexit handler.
static void child_fail(struct child_report report, int stage, int error) {
    struct teleops_spawn_failure failure = {stage, error};
    if (report.shared != NULL) {
        *report.shared = failure;
    } else {
        ssize_t written;
        do {
            written = write(report.fd, &failure, sizeof failure);
        } while (written < 0 && errno == EINTR);
    }
    _exit(127);
}

/// dup2 that also clears close-on-exec when `from` already is `to` (dup2 is then a no-op).
static int move_fd(int from, int to) {
    if (from == to) return fcntl(to, F_SETFD, 0);
    return dup2(from, to) < 0 ? -1 : 0;
}

/// setrlimit(resource, {soft, hard}). When the hard limit is above ours and we may not raise it
/// (not root), both are capped at our hard limit: the command gets the strictest limit it can.
static int set_limit(int resource, rlim_t soft, rlim_t hard) {
    struct rlimit wanted = {soft, hard};
    if (setrlimit(resource, &wanted) == 0) return 0;
    if (errno != EPERM) return -1;
    struct rlimit current;
    if (getrlimit(resource, &current) != 0) return -1;
    if (current.rlim_max == RLIM_INFINITY || hard <= current.rlim_max) {
        errno = EPERM;
        return -1;
    }
    wanted.rlim_max = current.rlim_max;
    if (wanted.rlim_cur > wanted.rlim_max) wanted.rlim_cur = wanted.rlim_max;
    return setrlimit(resource, &wanted);
}

/// Marks every fd from 3 up close-on-exec (the report pipe must stay open until the exec).
static int cloexec_from_3(void) {
    if (syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) == 0) return 0;
    // Kernels before 5.11: one fcntl per possible fd, up to our open-files limit.
    struct rlimit files;
    if (getrlimit(RLIMIT_NOFILE, &files) != 0) return -1;
    rlim_t end = files.rlim_cur == RLIM_INFINITY || files.rlim_cur > (1 << 20) ? (1 << 20) : files.rlim_cur;
    for (rlim_t fd = 3; fd < end; fd++) {
        if (fcntl((int)fd, F_SETFD, FD_CLOEXEC) != 0 && errno != EBADF) return -1;
    }
    return 0;
}

static void child(const struct teleops_spawn_plan *plan, struct child_report report) {
    // Keep a report pipe clear of 0, 1 and 2, which are about to be replaced.
    if (report.shared == NULL && report.fd <= 2) {
        int moved = fcntl(report.fd, F_DUPFD_CLOEXEC, 3);
        if (moved < 0) _exit(127);  // cannot even report
        report.fd = moved;
    }
    // A process group of its own, with the child's pid as id, in our session; and no controlling
    // terminal (TIOCNOTTY detaches only the caller when it leads no session). Or, for a worker
    // process, a session of its own, which has no terminal to begin with.
    if (plan->new_session) {
        if (setsid() < 0) child_fail(report, TELEOPS_SPAWN_STAGE_SETSID, errno);
    } else {
        if (setpgid(0, 0) < 0) child_fail(report, TELEOPS_SPAWN_STAGE_SETPGID, errno);
        // Fails only when the terminal is no longer ours (hung up since the parent opened it),
        // and then the command cannot use it either.
        if (plan->tty_fd >= 0) (void)ioctl(plan->tty_fd, TIOCNOTTY);
    }

    // Every disposition back to default (an ignored signal would survive the exec), then an
    // empty mask: the parent blocked everything around the fork, so no handler of its ran here.
    struct sigaction defaults = {0};
    defaults.sa_handler = SIG_DFL;
    for (int sig = 1; sig < _NSIG; sig++) {
        if (sig == SIGKILL || sig == SIGSTOP) continue;
        (void)sigaction(sig, &defaults, NULL);  // glibc refuses its two internal signals: fine
    }
    sigset_t empty;
    sigemptyset(&empty);
    if (sigprocmask(SIG_SETMASK, &empty, NULL) != 0) child_fail(report, TELEOPS_SPAWN_STAGE_SIGNALS, errno);

    // Output first (the pipe may sit on fd 0 if ours was closed), then stdin from /dev/null.
    if (plan->output_fd >= 0) {
        if (move_fd(plan->output_fd, 1) != 0 || move_fd(plan->output_fd, 2) != 0) {
            child_fail(report, TELEOPS_SPAWN_STAGE_OUTPUT, errno);
        }
    }
    int null_fd = plan->stdin_fd >= 0 ? plan->stdin_fd : open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (null_fd < 0 || move_fd(null_fd, 0) != 0) child_fail(report, TELEOPS_SPAWN_STAGE_STDIN, errno);
    if (cloexec_from_3() != 0) child_fail(report, TELEOPS_SPAWN_STAGE_CLOSE_FDS, errno);

    // Limits while still privileged (root may raise hard limits; the user may not).
    if (plan->apply_limits) {
        if (plan->cpu_seconds >= 0) {
            // Soft then hard one second later: SIGXCPU first (catchable), SIGKILL after.
            rlim_t soft = (rlim_t)plan->cpu_seconds;
            if (set_limit(RLIMIT_CPU, soft, soft + 1) != 0) child_fail(report, TELEOPS_SPAWN_STAGE_LIMIT_CPU, errno);
        }
        if (plan->address_space_bytes >= 0) {
            rlim_t bytes = (rlim_t)plan->address_space_bytes;
            if (set_limit(RLIMIT_AS, bytes, bytes) != 0) child_fail(report, TELEOPS_SPAWN_STAGE_LIMIT_AS, errno);
        }
        if (plan->open_files >= 0) {
            rlim_t files = (rlim_t)plan->open_files;
            if (set_limit(RLIMIT_NOFILE, files, files) != 0) child_fail(report, TELEOPS_SPAWN_STAGE_LIMIT_NOFILE, errno);
        }
        if (plan->processes >= 0) {
            rlim_t count = (rlim_t)plan->processes;
            if (set_limit(RLIMIT_NPROC, count, count) != 0) child_fail(report, TELEOPS_SPAWN_STAGE_LIMIT_NPROC, errno);
        }
        if (set_limit(RLIMIT_CORE, 0, 0) != 0) child_fail(report, TELEOPS_SPAWN_STAGE_LIMIT_CORE, errno);
    }

    // Raw system calls: they change this (only) thread's credentials. glibc's wrappers would
    // try to broadcast the change to every thread it believes exists.
    if (plan->switch_user) {
        if (syscall(SYS_setgroups, (size_t)plan->group_count, plan->groups) != 0) {
            child_fail(report, TELEOPS_SPAWN_STAGE_SETGROUPS, errno);
        }
        if (syscall(SYS_setresgid, plan->gid, plan->gid, plan->gid) != 0) child_fail(report, TELEOPS_SPAWN_STAGE_SETGID, errno);
        if (syscall(SYS_setresuid, plan->uid, plan->uid, plan->uid) != 0) child_fail(report, TELEOPS_SPAWN_STAGE_SETUID, errno);
        if (plan->uid != 0 && syscall(SYS_setuid, 0) == 0) child_fail(report, TELEOPS_SPAWN_STAGE_KEEPS_ROOT, EPERM);
    }

    if (plan->directory != NULL && chdir(plan->directory) != 0) child_fail(report, TELEOPS_SPAWN_STAGE_CHDIR, errno);

    execve(plan->path, plan->argv, plan->envp);
    child_fail(report, TELEOPS_SPAWN_STAGE_EXEC, errno);
}

// ---- The parent side.

/// What a child that shares our memory is given: the plan, and where to report a failure.
struct shared_child {
    const struct teleops_spawn_plan *plan;
    struct teleops_spawn_failure failure;
};

static int shared_child_main(void *argument) {
    struct shared_child *shared = argument;
    child(shared->plan, (struct child_report){-1, &shared->failure});  // never returns
    return 127;
}

/// The child's stack while it shares our memory: 64 KiB above an inaccessible guard page (a
/// child that overran it would fault, not write into other memory of ours). Each thread that
/// starts children maps one the first time and keeps it for its next children, which spares
/// two mappings and an unmapping (about 20 µs) per child; it is unmapped when the thread ends.
enum { CHILD_STACK_SIZE = 64 * 1024 };
static pthread_key_t child_stack_key;
static pthread_once_t child_stack_key_once = PTHREAD_ONCE_INIT;

static size_t child_stack_guard(void) { return (size_t)sysconf(_SC_PAGESIZE); }

static void unmap_child_stack(void *region) { munmap(region, child_stack_guard() + CHILD_STACK_SIZE); }

static void make_child_stack_key(void) { (void)pthread_key_create(&child_stack_key, unmap_child_stack); }

/// The top of this thread's child stack, mapped on first use; NULL with errno when it cannot be.
static char *child_stack_top(void) {
    int error = pthread_once(&child_stack_key_once, make_child_stack_key);
    if (error != 0) {
        errno = error;
        return NULL;
    }
    size_t guard = child_stack_guard();
    char *region = pthread_getspecific(child_stack_key);
    if (region == NULL) {
        region = mmap(NULL, guard + CHILD_STACK_SIZE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
        if (region == MAP_FAILED) return NULL;
        if (mprotect(region + guard, CHILD_STACK_SIZE, PROT_READ | PROT_WRITE) != 0 ||
            (error = pthread_setspecific(child_stack_key, region)) != 0) {
            int saved = error != 0 ? error : errno;
            munmap(region, guard + CHILD_STACK_SIZE);
            errno = saved;
            return NULL;
        }
    }
    return region + guard + CHILD_STACK_SIZE;
}

/// clone(CLONE_VM | CLONE_VFORK), as posix_spawn does: the child runs on its own stack in our
/// memory and this thread sleeps until it has exec'd or exited, so nothing is copied (a fork
/// copies the page tables of the whole worker, and every page the worker writes afterwards
/// faults once). Only for a child that keeps our credentials: see teleops_spawn.
static pid_t spawn_sharing_memory(const struct teleops_spawn_plan *plan, struct teleops_spawn_failure *failure) {
    char *stack_top = child_stack_top();
    if (stack_top == NULL) {
        failure->stage = TELEOPS_SPAWN_STAGE_FORK;
        failure->error = errno;
        return -1;
    }
    struct shared_child shared = {plan, {TELEOPS_SPAWN_STAGE_NONE, 0}};

    // No signal handler of ours may run in the child (on our memory!) before it resets them.
    sigset_t all, saved;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &saved);
    pid_t pid = clone(shared_child_main, stack_top, CLONE_VM | CLONE_VFORK | SIGCHLD, &shared);
    int clone_error = errno;
    pthread_sigmask(SIG_SETMASK, &saved, NULL);
    if (pid < 0) {
        failure->stage = TELEOPS_SPAWN_STAGE_FORK;
        failure->error = clone_error;
        return -1;
    }
    if (shared.failure.stage == TELEOPS_SPAWN_STAGE_NONE) return pid;

    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    *failure = shared.failure;
    return -1;
}

/// A plain fork: the child gets a copy of our memory, and reports a failure down a close-on-exec
/// pipe (end of file: it exec'd).
static pid_t spawn_forked(const struct teleops_spawn_plan *plan, struct teleops_spawn_failure *failure) {
    int report[2];
    if (pipe2(report, O_CLOEXEC) != 0) {
        failure->stage = TELEOPS_SPAWN_STAGE_PIPE;
        failure->error = errno;
        return -1;
    }

    // No signal handler of ours may run in the child before it resets them.
    sigset_t all, saved;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &saved);
    // _Fork (glibc 2.34): a fork that runs no atfork handlers and takes no locks, which is
    // all a child that only execs needs.
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
    pid_t pid = _Fork();
#else
    pid_t pid = fork();
#endif
    if (pid == 0) {
        close(report[0]);
        child(plan, (struct child_report){report[1], NULL});  // never returns
    }
    int fork_error = errno;
    pthread_sigmask(SIG_SETMASK, &saved, NULL);
    close(report[1]);
    if (pid < 0) {
        close(report[0]);
        failure->stage = TELEOPS_SPAWN_STAGE_FORK;
        failure->error = fork_error;
        return -1;
    }

    // End of file: the exec succeeded (the write end was close-on-exec). A record: it failed.
    struct teleops_spawn_failure reported = {0};
    size_t got = 0;
    while (got < sizeof reported) {
        ssize_t n = read(report[0], (char *)&reported + got, sizeof reported - got);
        if (n > 0) {
            got += (size_t)n;
        } else if (n == 0 || errno != EINTR) {
            break;
        }
    }
    close(report[0]);
    if (got == 0) return pid;

    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    if (got == sizeof reported) {
        *failure = reported;
    } else {
        failure->stage = TELEOPS_SPAWN_STAGE_EXEC;
        failure->error = EIO;
    }
    return -1;
}

pid_t teleops_spawn(const struct teleops_spawn_plan *plan, struct teleops_spawn_failure *failure) {
    failure->stage = TELEOPS_SPAWN_STAGE_NONE;
    failure->error = 0;
    // A child that switches users forks. Sharing our memory, it would run as that user on the
    // worker's pages until the exec; the kernel then marks the worker not dumpable (so that user
    // cannot ptrace its way in), for good, and only while fs.suid_dumpable is 0 or 2.
    return plan->switch_user ? spawn_forked(plan, failure) : spawn_sharing_memory(plan, failure);
}
