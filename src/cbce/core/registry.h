/*
 * registry.h -- the loss families and their scalar parameters, each described once.
 *
 * Made from these two tables: the parameter checks (driver.c, cbce__check), the status
 * strings of the parameter errors (api.c), the public entry points and the dispatch the
 * bindings call (families.c), and, through tools/gen_registry.py (which parses the lines
 * below, one entry a line), the prototypes in cbce.h, a parameter's cbce_args_t field and
 * status code in cbce.h, their mirror in cbce.pxd, the Python table src/cbce/_registry.py
 * and the stubs in __init__.pyi.
 *
 * CBCE__PARAMS(P): P(name, status, lo, hi, kind, message)
 *   name     a double field of cbce_args_t (the generator appends a new one at the end
 *            of the struct: zero must mean "as without it")
 *   status   the cbce_status_t returned for a value outside the range (the generator
 *            appends a new one with the next number)
 *   lo, hi   the range; kind CBCE__CLOSED: lo <= v <= hi, CBCE__HALF_OPEN: lo <= v < hi,
 *            CBCE__OR_NAN: lo <= v <= hi or NaN (NaN means "none"; Python's None)
 *   message  the status string (the bindings add the value given)
 *
 * CBCE__FAMILIES(F): F(name, steps, operands, python, cls, params)
 *   name     the entry points cbce_<name>_{fwd,bwd,fwd_bwd,grad_hess}_{f32,f64}
 *   steps    the compute steps cbce__<steps>_steps (internal.h (d))
 *   operands CBCE__LOGITS: logits, target, weight;  CBCE__LOGITS_PW: and pos_weight;
 *            CBCE__PROBS: probabilities and targets checked to lie in [0, 1] (the entry
 *            points take a last size_t *bad_index, see cbce.h)
 *   python   the name of the Python function (and of its _backward, _forward_backward,
 *            _grad_hess)
 *   cls      the Python class, Name(weight) when its constructor takes a weight
 *   params   CBCE__P(name, default) for each parameter the family reads, in the order of
 *            the Python keywords; the default is Python's (NAN: None).  A family ignores
 *            the parameters it does not list.
 * The order of the families is their number (cbce__families[], the bindings' codes).
 */
#ifndef CBCE_REGISTRY_H
#define CBCE_REGISTRY_H

#include <float.h>

#define CBCE__PARAMS(P)                                                                   \
    P(label_smoothing, CBCE_ERR_SMOOTHING, 0.0, 1.0, CBCE__CLOSED, "label_smoothing must be in [0, 1]") \
    P(gamma, CBCE_ERR_GAMMA, 0.0, DBL_MAX, CBCE__CLOSED, "gamma must be a finite number >= 0") \
    P(alpha, CBCE_ERR_ALPHA, -DBL_MAX, DBL_MAX, CBCE__OR_NAN, "alpha must be a finite number or None") \
    P(epsilon, CBCE_ERR_EPSILON, -DBL_MAX, DBL_MAX, CBCE__CLOSED, "epsilon must be a finite number") \
    P(gamma_pos, CBCE_ERR_GAMMA_POS, 0.0, DBL_MAX, CBCE__CLOSED, "gamma_pos must be a finite number >= 0") \
    P(gamma_neg, CBCE_ERR_GAMMA_NEG, 0.0, DBL_MAX, CBCE__CLOSED, "gamma_neg must be a finite number >= 0") \
    P(clip, CBCE_ERR_CLIP, 0.0, 1.0, CBCE__HALF_OPEN, "clip must be in [0, 1)")

#define CBCE__FAMILIES(F)                                                                 \
    F(bce_logits, logits, CBCE__LOGITS_PW, binary_cross_entropy_with_logits, BCEWithLogitsLoss(weight), CBCE__P(label_smoothing, 0.0)) \
    F(bce, probs, CBCE__PROBS, binary_cross_entropy, BCELoss(weight), CBCE__P(label_smoothing, 0.0)) \
    F(focal, focal, CBCE__LOGITS, sigmoid_focal_loss, SigmoidFocalLoss, CBCE__P(alpha, 0.25) CBCE__P(gamma, 2.0) CBCE__P(label_smoothing, 0.0)) \
    F(poly1, poly1, CBCE__LOGITS_PW, poly1_loss, Poly1Loss(weight), CBCE__P(epsilon, 1.0) CBCE__P(label_smoothing, 0.0)) \
    F(poly1_focal, poly1_focal, CBCE__LOGITS, poly1_focal_loss, Poly1FocalLoss, CBCE__P(epsilon, 1.0) CBCE__P(alpha, 0.25) CBCE__P(gamma, 2.0) CBCE__P(label_smoothing, 0.0)) \
    F(asymmetric, asymmetric, CBCE__LOGITS, asymmetric_loss, AsymmetricLoss, CBCE__P(gamma_pos, 0.0) CBCE__P(gamma_neg, 4.0) CBCE__P(clip, 0.05))

enum { CBCE__CLOSED, CBCE__HALF_OPEN, CBCE__OR_NAN };

/* Parameter numbers (CBCE__PARAM_<name>) and the family numbers (CBCE__FAMILY_<name>). */
#define CBCE__PARAM_ENUM(name, status, lo, hi, kind, message) CBCE__PARAM_##name,
enum { CBCE__PARAMS(CBCE__PARAM_ENUM) CBCE__NPARAMS };
#undef CBCE__PARAM_ENUM
#define CBCE__FAMILY_ENUM(name, steps, operands, python, cls, params) CBCE__FAMILY_##name,
enum { CBCE__FAMILIES(CBCE__FAMILY_ENUM) CBCE__NFAMILIES };
#undef CBCE__FAMILY_ENUM

/* A family's parameters as a bit set: (0u params). */
#define CBCE__P(name, dflt) | (1u << CBCE__PARAM_##name)

/* What a family's operands mean, as bits of cbce__family.operands. */
enum { CBCE__TAKES_POS_WEIGHT = 1, CBCE__CHECKS_DOMAIN = 2 };
#define CBCE__OPERAND_BITS_CBCE__LOGITS 0
#define CBCE__OPERAND_BITS_CBCE__LOGITS_PW CBCE__TAKES_POS_WEIGHT
#define CBCE__OPERAND_BITS_CBCE__PROBS CBCE__CHECKS_DOMAIN

#endif
