#ifndef TELEOPS_CSHIMS_PROCESS_H
#define TELEOPS_CSHIMS_PROCESS_H

#include <spawn.h>

/// pipe2(fds, O_CLOEXEC): a pipe whose ends are closed on exec, created atomically.
int teleops_pipe_cloexec(int fds[2]);
/// posix_spawn_file_actions_addchdir_np (glibc >= 2.29): chdir in the child before exec.
int teleops_spawn_file_actions_addchdir(posix_spawn_file_actions_t *actions, const char *path);

#endif
