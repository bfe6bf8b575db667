#ifndef TELEOPS_CSHIMS_H
#define TELEOPS_CSHIMS_H

// Typed wrappers for C functions Swift cannot call directly: variadic ones
// (curl_easy_setopt, curl_easy_getinfo, prctl, syscall) and headers missing
// from the Glibc module (eventfd).

#include <curl/curl.h>
#include <sys/eventfd.h>
#include <sys/types.h>

typedef size_t (*teleops_curl_write_cb)(char *ptr, size_t size, size_t nmemb, void *userdata);

CURLcode teleops_curl_setopt_long(CURL *handle, CURLoption option, long value);
CURLcode teleops_curl_setopt_string(CURL *handle, CURLoption option, const char *value);
CURLcode teleops_curl_setopt_pointer(CURL *handle, CURLoption option, void *value);
CURLcode teleops_curl_setopt_slist(CURL *handle, CURLoption option, struct curl_slist *value);
CURLcode teleops_curl_setopt_write_function(CURL *handle, teleops_curl_write_cb callback);
CURLcode teleops_curl_setopt_write_function_header(CURL *handle, teleops_curl_write_cb callback);
CURLcode teleops_curl_getinfo_long(CURL *handle, CURLINFO info, long *out);

/// prctl(PR_SET_CHILD_SUBREAPER, on): orphans of our descendants are reparented to us.
int teleops_set_child_subreaper(int on);
/// prctl(PR_GET_CHILD_SUBREAPER): 1 when this process is a child subreaper, 0 otherwise.
int teleops_is_child_subreaper(void);
/// prctl(PR_SET_PDEATHSIG, signal): the kernel sends `signal` when our parent dies.
int teleops_set_parent_death_signal(int signal);
/// pidfd_open(2): a file descriptor that becomes readable when `pid` exits; -1 with errno on failure.
int teleops_pidfd_open(pid_t pid);

// Process helpers of TeleOpsDispatch (glibc _GNU_SOURCE functions the Glibc module hides).
#include "CShimsProcess.h"

/// curl_easy_getinfo for a socket (CURLINFO_ACTIVESOCKET): the connection a CONNECT_ONLY handle holds.
CURLcode teleops_curl_getinfo_socket(CURL *handle, CURLINFO info, curl_socket_t *out);

#endif
