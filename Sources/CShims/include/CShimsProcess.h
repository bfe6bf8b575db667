#ifndef TELEOPS_CSHIMS_PROCESS_H
#define TELEOPS_CSHIMS_PROCESS_H

#include <signal.h>
#include <spawn.h>
#include <sys/types.h>

/// pipe2(fds, O_CLOEXEC): a pipe whose ends are closed on exec, created atomically.
int teleops_pipe_cloexec(int fds[2]);
/// posix_spawn_file_actions_addchdir_np (glibc >= 2.29): chdir in the child before exec.
int teleops_spawn_file_actions_addchdir(posix_spawn_file_actions_t *actions, const char *path);
/// posix_spawn_file_actions_addclosefrom_np (glibc >= 2.34): close every fd from `from` up.
int teleops_spawn_file_actions_addclosefrom(posix_spawn_file_actions_t *actions, int from);

/// Where the child of `teleops_spawn` stopped before it could exec. The parent reports it
/// together with the errno the child saw.
typedef enum teleops_spawn_stage {
    TELEOPS_SPAWN_STAGE_NONE = 0,
    TELEOPS_SPAWN_STAGE_PIPE,         // the parent could not create the report pipe
    TELEOPS_SPAWN_STAGE_FORK,         // the parent could not fork, clone, or map the child's stack
    TELEOPS_SPAWN_STAGE_SETSID,
    TELEOPS_SPAWN_STAGE_SETPGID,
    TELEOPS_SPAWN_STAGE_SIGNALS,
    TELEOPS_SPAWN_STAGE_STDIN,        // opening /dev/null or dup2 onto 0
    TELEOPS_SPAWN_STAGE_OUTPUT,       // dup2 of the output pipe onto 1 and 2
    TELEOPS_SPAWN_STAGE_CLOSE_FDS,
    TELEOPS_SPAWN_STAGE_LIMIT_CPU,
    TELEOPS_SPAWN_STAGE_LIMIT_AS,
    TELEOPS_SPAWN_STAGE_LIMIT_NOFILE,
    TELEOPS_SPAWN_STAGE_LIMIT_NPROC,
    TELEOPS_SPAWN_STAGE_LIMIT_CORE,
    TELEOPS_SPAWN_STAGE_SETGROUPS,
    TELEOPS_SPAWN_STAGE_SETGID,
    TELEOPS_SPAWN_STAGE_SETUID,
    TELEOPS_SPAWN_STAGE_KEEPS_ROOT,   // setuid(0) still succeeded after the switch
    TELEOPS_SPAWN_STAGE_CHDIR,
    TELEOPS_SPAWN_STAGE_EXEC,
} teleops_spawn_stage;

/// Everything the child sets up before it execs. All strings and arrays are prepared by the
/// parent before the fork: the child only reads them and makes async-signal-safe calls.
struct teleops_spawn_plan {
    /// The program to execve: already resolved (no PATH search in the child).
    const char *path;
    /// NULL-terminated argv and environment, passed to execve as they are.
    char *const *argv;
    char *const *envp;
    /// chdir here (after the user switch, so the user's permissions apply); NULL: keep ours.
    const char *directory;
    /// 1: a new session (setsid(), which also makes a new process group): worker processes.
    /// 0: only a new process group (setpgid(0, 0)) in our session: commands. Under the kernel's
    /// autogroup scheduling every new session is a scheduling group of its own, created and torn
    /// down with it, which a command started for each task should not cost.
    int new_session;
    /// With `new_session` 0: an fd of our controlling terminal (opened with O_NOCTTY), or -1 when
    /// we have none. The child gives up the terminal (TIOCNOTTY), so a command never reads from
    /// or waits on the terminal the worker was started from; without a new session it would
    /// otherwise keep it.
    int tty_fd;
    /// stdin dup2'd from this fd (ours, open on /dev/null); -1: the child opens /dev/null itself.
    int stdin_fd;
    /// stdout and stderr both dup2'd onto this fd; -1: inherit ours.
    int output_fd;
    /// 0: leave every rlimit as it is (worker processes). 1: apply the four below
    /// (< 0: leave that one as it is) and set RLIMIT_CORE to 0.
    int apply_limits;
    long long cpu_seconds;
    long long address_space_bytes;
    long long open_files;
    long long processes;
    /// 1: setgroups(groups), setgid(gid), setuid(uid), then check that setuid(0) fails.
    int switch_user;
    uid_t uid;
    gid_t gid;
    const gid_t *groups;
    int group_count;
};

/// Why a spawn failed: the stage and the errno seen there.
struct teleops_spawn_failure {
    int stage;
    int error;
};

/// Starts a child that, before it execs `plan->path`: makes itself the leader of a new process
/// group (setpgid(0, 0)) and gives up our controlling terminal, or with `new_session` the leader
/// of a new session and process group (setsid()); resets every signal to its default disposition
/// and empties its signal mask, reads stdin from `plan->stdin_fd` or /dev/null, writes stdout and
/// stderr to `plan->output_fd`, marks every other fd close-on-exec, applies the limits, switches
/// user, and changes directory.
///
/// The child shares our memory until it execs (clone with CLONE_VM | CLONE_VFORK, as posix_spawn
/// does: nothing is copied), except when it switches users: then it is forked.
///
/// Returns the child's pid once it has exec'd, or -1 with `*failure` filled in; a child that
/// failed has been reaped already. Blocks the calling thread until the exec: call it from a
/// dedicated thread.
pid_t teleops_spawn(const struct teleops_spawn_plan *plan, struct teleops_spawn_failure *failure);

/// pidfd_send_signal(2): signals exactly the process `pidfd` refers to, never a reused pid.
int teleops_pidfd_send_signal(int pidfd, int signal);
/// waitid(P_PIDFD, pidfd, WEXITED | WNOHANG): reaps exactly that process if it is our exited
/// child. Returns its pid when reaped, 0 when it has not exited yet, -1 with errno (ECHILD: not
/// our child).
pid_t teleops_pidfd_reap(int pidfd, int *status);

/// pthread_setname_np / pthread_getname_np for the calling thread (GNU extensions the Glibc
/// module hides): names show in ps, gdb and /proc/PID/task/TID/comm. At most 15 bytes.
int teleops_set_thread_name(const char *name);
int teleops_get_thread_name(char *buffer, size_t size);

#endif
