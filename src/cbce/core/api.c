/*
 * api.c -- version, status names, operand builders, CPU count.
 */
#define _POSIX_C_SOURCE 200809L
#include "internal.h"

#if defined(_WIN32)
#include <windows.h>
#else
#include <unistd.h>
#endif

#define CBCE__STR2(x) #x
#define CBCE__STR(x) CBCE__STR2(x)

unsigned cbce_version_number(void) { return CBCE_VERSION_NUMBER; }

const char *cbce_version_string(void)
{
    return CBCE__STR(CBCE_VERSION_MAJOR) "." CBCE__STR(CBCE_VERSION_MINOR) "." CBCE__STR(
        CBCE_VERSION_PATCH);
}

const char *cbce_status_string(int status)
{
    static const char *const names[CBCE_STATUS_COUNT] = {
        "ok",
        "a required pointer is NULL",
        "an operand has an unsupported dtype",
        "an operand's period or repeat is invalid",
        "unknown or unsupported reduction",
        NULL, /* the parameters' messages: registry.h */
        NULL,
        NULL,
        "a value is outside [0, 1]",
        "the thread pool could not start",
        "an operand this function does not take",
        "cbce_args_t.size is not that of a known layout",
    };
    if (status < 0 || status >= CBCE_STATUS_COUNT)
        return "unknown status";
#define CBCE__PARAM_MESSAGE(name, st, lo, hi, kind, message)                             \
    if (status == st)                                                                    \
        return message;
    CBCE__PARAMS(CBCE__PARAM_MESSAGE)
#undef CBCE__PARAM_MESSAGE
    return names[status];
}

cbce_operand_t cbce_vector(const void *data, int dtype, size_t n, ptrdiff_t stride)
{
    cbce_operand_t op;
    op.data = data;
    op.dtype = dtype;
    op.stride = stride;
    op.period = n > 0 ? n : 1;
    op.repeat = 1;
    return op;
}

cbce_operand_t cbce_scalar(const void *data, int dtype)
{
    return cbce_vector(data, dtype, 1, 0);
}

int cbce_cpu_count(void)
{
#if defined(_WIN32)
    SYSTEM_INFO si;
    GetSystemInfo(&si);
    return (int)si.dwNumberOfProcessors;
#elif defined(_SC_NPROCESSORS_ONLN)
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
#else
    return 1;
#endif
}
