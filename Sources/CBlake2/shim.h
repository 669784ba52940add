#ifndef CBLAKE2_SHIM_H
#define CBLAKE2_SHIM_H
#include <blake2.h>
#endif
