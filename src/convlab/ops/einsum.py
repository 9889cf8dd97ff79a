"""``einsum``: Einstein summation over any number of operands (explicit subscripts, and ``...``).

Forward is ``numpy.einsum``. The result is linear in each operand, so the gradient of operand
``k`` (subscripts ``s_k``) is the same contraction with ``k``'s place taken by the output
gradient: ``dA_k = einsum(out, s_1, .., s_{k-1}, s_{k+1}, .. -> u)`` over the letters ``u`` of
``s_k`` that occur elsewhere. A letter only in ``s_k`` was summed away, so its gradient is the
same along it (a broadcast); a letter repeated in ``s_k`` (``'ii'``, a diagonal) receives the
gradient on that diagonal only and zero elsewhere.
"""

from __future__ import annotations

from .. import backend
from ..graph import Function
from ..validate import ConvlabError


def parse(equation: str, shapes) -> tuple:
    """``(input subscripts, output subscripts)`` of ``equation``, checked against the operands' shapes."""
    if not isinstance(equation, str):
        raise TypeError(f"einsum(): argument 'equation' must be a str, got {type(equation).__name__}")
    eq = equation.replace(" ", "")
    if "." in eq:
        eq = _expand_ellipsis(eq, shapes, equation)
    lhs, arrow, out = eq.partition("->")
    ins = lhs.split(",")
    if len(ins) != len(shapes):
        raise ConvlabError("einsum(): more operands were provided than specified in the equation"
                           if len(shapes) > len(ins) else
                           f"einsum(): fewer operands were provided than specified in the equation ({equation!r})")
    letters = "".join(ins)
    if not (letters + out).isalpha() or not all(c.isascii() for c in letters + out):
        raise ConvlabError(f"einsum(): invalid subscript in equation {equation!r}: subscripts must be letters [a-zA-Z]")
    if not arrow:  # implicit output: the letters used once, in alphabetical order
        out = "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    sizes = {}
    for k, (s, shape) in enumerate(zip(ins, shapes)):
        if len(s) != len(shape):
            raise ConvlabError(f"einsum(): the number of subscripts in the equation ({len(s)}) does not match the "
                               f"number of dimensions ({len(shape)}) for operand {k}")
        for c, n in zip(s, shape):
            if sizes.setdefault(c, n) != n:
                raise ConvlabError(f"einsum(): subscript {c} has size {n} for operand {k} which does not broadcast "
                                   f"with previously seen size {sizes[c]}")
    if len(set(out)) != len(out) or any(c not in sizes for c in out):
        raise ConvlabError(f"einsum(): output subscripts {out!r} must be distinct letters that appear in the inputs")
    return ins, out


def _expand_ellipsis(eq: str, shapes, equation: str) -> str:
    """Spell ``...`` out with letters the equation does not use: operand k's ``...`` covers its
    dims not named by letters, aligned from the right across operands (as broadcasting aligns
    them); an implicit output puts them first."""
    lhs, arrow, out = eq.partition("->")
    ins = lhs.split(",")
    if any(s.count("...") > 1 or s.replace("...", "").count(".") for s in ins + [out]):
        raise ConvlabError(f"einsum(): invalid ellipsis in equation {equation!r}: use '...' at most once per operand")
    if len(ins) != len(shapes):
        return eq  # parse() reports the operand count
    spans = [len(shape) - len(s.replace("...", "")) if "..." in s else 0 for s, shape in zip(ins, shapes)]
    if any(n < 0 for n in spans):
        raise ConvlabError(f"einsum(): the equation {equation!r} names more dims than an operand has")
    free = [c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz" if c not in eq]
    width = max(spans, default=0)
    letters = "".join(free[:width])
    ins = [s.replace("...", letters[width - n:]) for s, n in zip(ins, spans)]
    if arrow:
        out = out.replace("...", letters)
    else:
        named = "".join(ins).replace(letters, "")
        out = letters + "".join(sorted(c for c in set(named) if "".join(ins).count(c) == 1 and c not in letters))
    return ",".join(ins) + "->" + out


class Einsum(Function):
    """``einsum(subscripts, *operands)``: shapes as the subscripts say (``'ij,jk->ik'``: (i, j), (j, k) -> (i, k))."""

    @staticmethod
    def forward(ctx, *arrays, ins, out):
        xp = backend.array_module(arrays[0])
        ctx.save_for_backward(*arrays)
        ctx.info = (ins, out)
        spec = ",".join(ins) + "->" + out
        return xp.asarray(xp.einsum(spec, *arrays))

    @staticmethod
    def backward(ctx, g):
        xp = backend.array_module(g)
        arrays = ctx.saved
        ins, out = ctx.info
        grads = []
        for k, s in enumerate(ins):
            if not ctx.needs_input_grad[k]:
                grads.append(None)
                continue
            others = [(ins[j], arrays[j]) for j in range(len(ins)) if j != k]
            seen = set(out).union(*(set(t) for t, _ in others))
            unique = "".join(dict.fromkeys(s))  # s's letters, once each, in order
            kept = "".join(c for c in unique if c in seen)
            spec = ",".join([out] + [t for t, _ in others]) + "->" + kept
            part = xp.einsum(spec, g, *[a for _, a in others])
            sizes = dict(zip(s, arrays[k].shape))
            # put back the letters only s has (summed away: the gradient is constant along them)
            part = part.reshape([sizes[c] if c in kept else 1 for c in unique] if kept != unique else part.shape)
            part = xp.broadcast_to(part, [sizes[c] for c in unique])
            grad = xp.zeros(arrays[k].shape, dtype=g.dtype)
            # a writeable view of grad indexed by the distinct letters: its diagonal where s repeats one
            view = xp.einsum(f"{s}->{unique}", grad) if unique != s else grad
            view[...] = part
            grads.append(grad)
        return tuple(grads)
