"""The measured fast paths of cnnlab's engine, kept apart from the readable definitions.

A student reads ``cnnlab.functional``: short definitions (a window view and one tensordot).
The public functions there check their arguments and then run the fast twin from here:

    _fast/conv.py         conv2d_forward (blocks of images), conv2d_forward_cached (the two
                          im2col layouts, the bias trick, GEMM row padding), conv2d_backward,
                          col2im_batch_last, im2col_into
    _fast/pool.py         max pooling by taps (int8 winning tap), window sums for avg/sum/Lp
    _fast/elementwise.py  ReLU forward and backward
    _fast/threads.py      parallel_for, by_rows, set_num_threads / get_num_threads

Every readable definition names its fast twin ("fast twin: cnnlab._fast.conv.conv2d_forward")
and ``tests/test_fast_paths.py`` holds each pair equal (float64 tight, float32 close) over
random shapes, strides, paddings and dilations, forward and backward. The measurements that
justify each trick are written next to it, here, not in the code students read.
"""
