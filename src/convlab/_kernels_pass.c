/* convlab._kernels' passes over the persistent worker pool (_pool.h).
 *
 * Every pass is cut along a dimension whose pieces write disjoint outputs and sum nothing across
 * the cut (elements, rows, channels, samples, planes), so the result is the same bits whatever
 * the thread count. A pass runs on one thread per `min_elements` values it touches (at most the
 * thread count; a smaller one stays on the calling thread): in a training step a pass reads what
 * the op before it just wrote into the calling core's cache, and below a few MB another core
 * pays more to fetch it than it saves (ops/fused.py has the measurements behind the size Python
 * sets).
 */
#include <stdatomic.h>
#include <stdlib.h>

#include "_kernels.h"
#include "_pool.h"

static int pass_threads = 1;
static idx min_elements = (idx)1 << 18; /* values per thread (ops/fused.py sets it) */

static void pass_part(void *arg, idx part)
{
    pass *p = arg;
    idx lo = p->units * part / p->parts, hi = p->units * (part + 1) / p->parts;
    const void *const *in = p->in;
    void *const *out = p->out;
    switch (p->kind) {
    case RELU: relu_loop(lo, hi, in[0], out[0], out[1]); break;
    case RELU_BACKWARD: relu_backward_loop(lo, hi, in[0], in[1], out[0]); break;
    case MOMENTS: moments_loop(lo, hi, p->n, p->c, p->len, in[0], out[0], out[1]); break;
    case NORMALIZE: normalize_loop(lo, hi, p->c, p->len, in[0], in[1], in[2], in[3], out[0]); break;
    case GRAD_SUMS: grad_sums_loop(lo, hi, p->n, p->c, p->len, in[0], in[1], in[2], out[0], out[1]); break;
    case NORMALIZE_BACKWARD:
        normalize_backward_loop(lo, hi, p->c, p->len, in[0], in[1], in[2], in[3], in[4], in[5], out[0]);
        break;
    case IM2COL: im2col_loop(lo, hi, p->g, in[0], out[0]); break;
    case COL2IM: col2im_loop(lo, hi, p->g, in[0], out[0]); break;
    case GRID_IN: grid_in_loop(lo, hi, p->n, p->c, p->h, p->w, p->gh, p->gw, p->base, p->len, in[0], out[0]); break;
    case PHASE_GRID:
        phase_grid_loop(lo, hi, p->n, p->c, p->h, p->w, p->gh, p->gw, p->base, p->left, p->len, in[0], out[0]);
        break;
    case GRID_OUT: grid_out_loop(lo, hi, p->n, p->c, p->h, p->w, p->gh, p->gw, in[0], in[1], out[0]); break;
    case MAXPOOL: maxpool_loop(lo, hi, p->g, in[0], out[0], out[1]); break;
    case MAXPOOL_BACKWARD: maxpool_backward_loop(lo, hi, p->g, in[0], in[1], out[0]); break;
    case DEPTHWISE: {
        float *pad = malloc(sizeof(float) * p->scratch);
        if (!pad) {
            p->failed = 1;
            return;
        }
        idx per = p->mode == 2 ? p->n : 1; /* the weight gradient: whole channels (each sums its samples) */
        depthwise_loop(lo * per, hi * per, p->mode, p->g, in[0], in[1], in[2], out[0], pad, pad + p->len);
        free(pad);
        break;
    }
    }
}

int run_pass(pass *p, idx units, idx elements)
{
    /* one thread per min_elements values (all of them when it is 0), at most pass_threads */
    idx share = min_elements > 0 ? elements / min_elements : pass_threads;
    int threads = share >= pass_threads ? pass_threads : share < 1 ? 1 : (int)share;
    p->units = units;
    p->parts = units < 2 * threads ? units : 2 * threads; /* two per thread: a late thread's share is taken */
    if (p->parts < 1) p->parts = 1;
    if (threads < 2) p->parts = 1;
    p->failed = 0;
    if (units > 0) pool_run(pass_part, p, p->parts, threads);
    return p->failed ? -1 : 0;
}

int set_pass_threads(int threads, idx min_values)
{
    if (threads < 1 || threads > POOL_MAX || min_values < 0) return -1;
    pass_threads = threads;
    min_elements = min_values;
    return 0;
}

void get_pass_threads(int *threads, idx *min_values)
{
    *threads = pass_threads;
    *min_values = min_elements;
}
