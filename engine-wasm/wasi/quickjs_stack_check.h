/*
 * Force-included before every QuickJS source file when building for wasm32-wasi
 * (CFLAGS_wasm32_wasip1 in .cargo/config.toml; found through C_INCLUDE_PATH).
 *
 * QuickJS-ng compiles its stack-overflow check out when `__wasi__` is defined
 * (`update_stack_limit` in quickjs.c pins the limit to 0), so deep recursion would run
 * past the shadow stack and trap instead of throwing a catchable RangeError. This header
 * includes every libc header QuickJS uses while `__wasi__` is still defined (wasi-libc's
 * headers require it), then hides it from QuickJS itself. The only other effect on
 * QuickJS is that cutils.h stops calling `malloc_usable_size`, which is why the engine
 * uses rquickjs's `rust-alloc` allocator (it reports sizes itself).
 */
#include <alloca.h>
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <malloc.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#undef __wasi__
