/*
 * focal.c -- the sigmoid focal loss (Lin et al. 2017, torchvision's formula) on logits:
 * the compute steps (float32 data: the CBCE__ELEM_FOCAL body in double; float64 data:
 * cbce__focal_x in double-double; the log-space formulas are in focal_elem.h).
 * alpha = NaN in cbce_args_t drops the class balance a_t (Python's alpha=None); the
 * ranges of gamma and alpha are registry.h's, checked by the driver.
 */
#include "losses/focal_elem.h"
#include "losses/step.h"

#define CBCE__FOCAL_CALL_D(W, i)                                                          \
    cbce__focal_d(W, x[i], t[i], w[i], m[i], k->keep, k->half, k->alpha, k->has_alpha,    \
                  k->gamma, &l[i], &g[i], &h[i])
#define CBCE__FOCAL_CALL_X(W, i)                                                          \
    cbce__focal_x(W, x[i], t[i], w[i], m[i], ml[i], k->eps, k->half, k->alpha,            \
                  k->has_alpha, k->gamma, &l[i], &g[i], &h[i])

CBCE__FAMILY_STEP(focal_gamma_step_d, CBCE__FOCAL_CALL_D)
CBCE__FAMILY_STEP_BLOCKED(focal_gamma_step_x, CBCE__FOCAL_CALL_X)

/*
 * gamma = 0 without alpha: the loss is bce_with_logits, so its chunk step (logits.c,
 * same SIMD level; the driver fills pos_weight with 1) computes it: within 1 ulp of
 * cbce_bce_logits_*, which run their own span kernels (two faithful roundings).  (With alpha, a_t times that rounded result would round twice, so
 * gamma = 0 with alpha stays on the focal element, where F = 1 exactly.)
 */
extern const cbce__steps CBCE__ISA_NAME(cbce__logits_steps);
#define focal_bce_step_d (*CBCE__ISA_NAME(cbce__logits_steps).d)
#define focal_bce_step_x (*CBCE__ISA_NAME(cbce__logits_steps).x)

/* The step: gamma and alpha are per-call constants, tested once per chunk. */
#define CBCE__FOCAL_STEP(NAME, BCE, GAMMA)                                                \
    CBCE__MAYBE_UNUSED static void NAME(CBCE__STEP_PARAMS(, k))                          \
    {                                                                                     \
        (k->gamma == 0 && !k->has_alpha ? BCE : GAMMA)(want, c, x, t, p, w, m, ml, k, l, g, \
                                                       h);                                \
    }

CBCE__FOCAL_STEP(focal_step_d, focal_bce_step_d, focal_gamma_step_d)
CBCE__FOCAL_STEP(focal_step_x, focal_bce_step_x, focal_gamma_step_x)

CBCE__STEPS(cbce__focal_steps, focal_step_d, focal_step_x, NULL, NULL);
