/*
 * families.c -- the loss families of registry.h: their table, the one dispatch behind
 * every entry point (also what the bindings call), and the public entry points, all made
 * from CBCE__FAMILIES.
 */
#include <stddef.h>
#include <string.h>

#include "internal.h"

const size_t cbce__param_offsets[CBCE__NPARAMS] = {
#define CBCE__OFFSET(name, status, lo, hi, kind, message) offsetof(cbce_args_t, name),
    CBCE__PARAMS(CBCE__OFFSET)
#undef CBCE__OFFSET
};

#define CBCE__DECLARE(name, steps, operands, python, cls, params)                             \
    CBCE__DECLARE_STEPS(cbce__##steps##_steps);
CBCE__FAMILIES(CBCE__DECLARE)
#undef CBCE__DECLARE

const cbce__family cbce__families[CBCE__NFAMILIES] = {
#define CBCE__ENTRY(name, steps, operands, python, cls, params)                               \
    {CBCE__STEP_TABLES(cbce__##steps##_steps), CBCE__OPERAND_BITS_##operands, 0u params},
    CBCE__FAMILIES(CBCE__ENTRY)
#undef CBCE__ENTRY
};

/* The first sized layout of cbce_args_t (0.2): every field up to simd. */
#define CBCE__ARGS_SIZE_0_2 (offsetof(cbce_args_t, simd) + sizeof(int))

/* The caller's arguments as this library's cbce_args_t (cbce.h, "ABI"): *a itself, or a
 * copy in *full with the fields past a->size at their zero default; NULL for a size this
 * library cannot read. */
static const cbce_args_t *known_layout(const cbce_args_t *a, cbce_args_t *full)
{
    size_t i;
    if (a->size < CBCE__ARGS_SIZE_0_2)
        return NULL;
    if (a->size < sizeof *full) {
        memset(full, 0, sizeof *full);
        memcpy(full, a, a->size);
        full->size = sizeof *full;
        return full;
    }
    for (i = sizeof *full; i < a->size; i++)
        if (((const unsigned char *)a)[i] != 0)
            return NULL;
    return a;
}

int cbce__call(int family, int op, int dtype, const cbce_args_t *a, void *o1, ptrdiff_t s1,
               void *result, void *o2, ptrdiff_t s2, size_t *bad_index)
{
    const cbce__family *f;
    cbce__outputs o = {0};
    cbce_args_t b, full;
    int want, st;
    if (family < 0 || family >= CBCE__NFAMILIES)
        return -1; /* not a family: the bindings pass the numbers of registry.h */
    if (a != NULL && (a = known_layout(a, &full)) == NULL)
        return CBCE_ERR_ARGS_SIZE;
    f = &cbce__families[family];
    switch (op) {
    case CBCE__OP_FWD:
        want = CBCE__LOSS;
        o.loss = o1, o.loss_stride = s1, o.result = result;
        break;
    case CBCE__OP_BWD:
        want = CBCE__GRAD;
        o.grad = o2, o.grad_stride = s2;
        break;
    case CBCE__OP_FWD_BWD:
        want = CBCE__LOSS | CBCE__GRAD;
        o.loss = o1, o.loss_stride = s1, o.result = result;
        o.grad = o2, o.grad_stride = s2;
        break;
    default: /* grad_hess: elementwise whatever the reduction */
        if (a == NULL)
            return CBCE_ERR_NULL;
        b = *a;
        b.reduction = CBCE_REDUCTION_NONE;
        a = &b;
        want = CBCE__GRAD | CBCE__HESS;
        o.grad = o1, o.grad_stride = s1;
        o.hess = o2, o.hess_stride = s2;
        break;
    }
    if (f->operands & CBCE__CHECKS_DOMAIN) {
        /* every argument checked before the data are scanned, and both before a write */
        if ((st = cbce__check(f, a, dtype, want, &o)) != CBCE_OK ||
            (st = cbce__domain(a, bad_index)) != CBCE_OK)
            return st;
    }
    return cbce__run(f, a, dtype, want, &o);
}

/*
 * The public entry points of every family, float and double.  A family with
 * CBCE__PROBS operands takes a last `size_t *bad_index` (cbce.h).
 */
#define CBCE__XP_CBCE__LOGITS
#define CBCE__XP_CBCE__LOGITS_PW
#define CBCE__XP_CBCE__PROBS , size_t *bad_index
#define CBCE__XA_CBCE__LOGITS NULL
#define CBCE__XA_CBCE__LOGITS_PW NULL
#define CBCE__XA_CBCE__PROBS bad_index

#define CBCE__ENTRY_POINTS(name, operands, SFX, T, DT)                                   \
    int cbce_##name##_fwd_##SFX(const cbce_args_t *a, T *out, ptrdiff_t out_stride,      \
                                T *result CBCE__XP_##operands)                           \
    {                                                                                    \
        return cbce__call(CBCE__FAMILY_##name, CBCE__OP_FWD, DT, a, out, out_stride,     \
                          result, NULL, 0, CBCE__XA_##operands);                         \
    }                                                                                    \
    int cbce_##name##_bwd_##SFX(const cbce_args_t *a, T *grad,                           \
                                ptrdiff_t grad_stride CBCE__XP_##operands)               \
    {                                                                                    \
        return cbce__call(CBCE__FAMILY_##name, CBCE__OP_BWD, DT, a, NULL, 0, NULL, grad, \
                          grad_stride, CBCE__XA_##operands);                             \
    }                                                                                    \
    int cbce_##name##_fwd_bwd_##SFX(const cbce_args_t *a, T *out, ptrdiff_t out_stride,  \
                                    T *result, T *grad,                                  \
                                    ptrdiff_t grad_stride CBCE__XP_##operands)           \
    {                                                                                    \
        return cbce__call(CBCE__FAMILY_##name, CBCE__OP_FWD_BWD, DT, a, out, out_stride, \
                          result, grad, grad_stride, CBCE__XA_##operands);               \
    }                                                                                    \
    int cbce_##name##_grad_hess_##SFX(const cbce_args_t *a, T *grad,                     \
                                      ptrdiff_t grad_stride, T *hess,                    \
                                      ptrdiff_t hess_stride CBCE__XP_##operands)         \
    {                                                                                    \
        return cbce__call(CBCE__FAMILY_##name, CBCE__OP_GRAD_HESS, DT, a, grad,          \
                          grad_stride, NULL, hess, hess_stride, CBCE__XA_##operands);    \
    }

#define CBCE__BOTH_TYPES(name, steps, operands, python, cls, params)                          \
    CBCE__ENTRY_POINTS(name, operands, f32, float, CBCE_F32)                             \
    CBCE__ENTRY_POINTS(name, operands, f64, double, CBCE_F64)
CBCE__FAMILIES(CBCE__BOTH_TYPES)
