/* The buffer checks shared by convlab._kernels' Python functions: _kernels.c (ReLU, batch norm,
 * threads) and _kernels_py_geometry.c (the passes that take a geometry: im2col/col2im, the flat
 * grids, depthwise convolution, max pooling), whose method table _kernels.c adds to the module. */
#ifndef CONVLAB_KERNELS_PY_H
#define CONVLAB_KERNELS_PY_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "_kernels.h"

/* one buffer argument: the object, its name and struct format for messages, item size, count, writable */
typedef struct {
    PyObject *obj;
    const char *name, *format;
    idx size, count;
    int writable;
} buffer_arg;

/* take every buffer (C-contiguous, the format and count asked) or none: 0, or -1 with ValueError set */
int buffers_get(const char *fn, buffer_arg *args, Py_buffer *views, int count);
void buffers_release(Py_buffer *views, int count);

extern PyMethodDef kernels_geometry_methods[];

#endif
