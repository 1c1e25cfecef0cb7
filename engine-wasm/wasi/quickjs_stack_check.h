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
 *
 * It also gives QuickJS a faster `strtod` (below), which `JSON.parse` calls for every number.
 *
 * rquickjs-sys rebuilds QuickJS when its flags change, not when this header does: after
 * editing it, `cargo clean -p rquickjs-sys` in the guest's target directory.
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

/*
 * `JSON.parse` reads each number with `strtod` (quickjs.c, json_parse_number), and
 * wasi-libc's is musl's exact multi-precision scan, ~4% of a JSON-heavy workload's time
 * (BENCHMARKS.md, "Wasm tier on real work"). A decimal whose digits make an integer of at
 * most 2^53 and whose exponent is within +-22 is an exact double times an exact power of ten,
 * so one IEEE multiplication or division rounds it correctly (Clinger's fast path). Every
 * other text (more digits, larger exponents, hex, inf, nan, spaces) goes to strtod itself.
 */
static inline double vulcan_strtod(const char *text, char **end)
{
    static const double powers_of_ten[23] = {
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
        1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
    };
    const char *p = text;
    int negative = 0;
    if (*p == '-' || *p == '+')
        negative = *p++ == '-';
    uint64_t mantissa = 0;
    int digits = 0, exponent = 0, too_long = 0;
    for (; *p >= '0' && *p <= '9'; p++, digits++) {
        too_long |= mantissa > (UINT64_MAX - 9) / 10;
        mantissa = mantissa * 10 + (uint64_t)(*p - '0');
    }
    if (*p == '.') {
        for (p++; *p >= '0' && *p <= '9'; p++, digits++, exponent--) {
            too_long |= mantissa > (UINT64_MAX - 9) / 10;
            mantissa = mantissa * 10 + (uint64_t)(*p - '0');
        }
    }
    if (digits == 0 || too_long || mantissa > (UINT64_C(1) << 53))
        return strtod(text, end);
    if (*p == 'e' || *p == 'E') {
        const char *q = p + 1;
        int exponent_negative = 0, written = 0;
        if (*q == '-' || *q == '+')
            exponent_negative = *q++ == '-';
        if (*q >= '0' && *q <= '9') {
            for (; *q >= '0' && *q <= '9'; q++) {
                if (written < 1000)
                    written = written * 10 + (*q - '0');
            }
            exponent += exponent_negative ? -written : written;
            p = q;
        }
    }
    if (exponent < -22 || exponent > 22)
        return strtod(text, end);
    double value = (double)mantissa;
    value = exponent < 0 ? value / powers_of_ten[-exponent] : value * powers_of_ten[exponent];
    if (end)
        *end = (char *)p;
    return negative ? -value : value;
}
#define strtod vulcan_strtod
