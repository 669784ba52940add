#ifndef CEPOLL_SHIM_H
#define CEPOLL_SHIM_H
// Linux readiness and timer APIs for loadgen's epoll engine (Glibc's Swift module does not export these headers).
#include <sys/epoll.h>
#include <sys/timerfd.h>
#endif
