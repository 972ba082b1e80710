"""``ember summary MODEL``: a registered model's layer table (output shapes, parameters, receptive fields).

The model is built from the registry (``ember.models.build``) with ``--kwargs`` as constructor
arguments, each ``KEY=VALUE`` read as a Python literal, and run once on a zero input of
``--input-shape`` (batch dimension included). An unknown model, a malformed ``--kwargs``, or
an argument or shape the model refuses ends with one line on stderr and exit status 2.

    ember summary resnet18 --input-shape 1 3 32 32 --kwargs num_classes=10 cifar_stem=True
"""
from __future__ import annotations

import ast
import sys

from ember import models
from ember.apps.arguments import positive_int

__all__ = ["add_arguments", "run"]


def add_arguments(parser) -> None:
    """The options of ``ember summary`` on an argparse parser."""
    parser.add_argument("model", help="a name from ember.models.available(), e.g. lenet5")
    parser.add_argument("--input-shape", type=positive_int, nargs="+", default=[1, 1, 32, 32],
                        help="input shape with the batch dimension (default 1 1 32 32)")
    parser.add_argument("--kwargs", nargs="*", default=[], metavar="KEY=VALUE",
                        help="constructor arguments, values read as Python literals")


def run(args) -> int:
    """``ember summary MODEL``: build ``MODEL`` from the registry and print its layer table; the exit code."""
    if args.model.lower() not in models.list():
        print(f"ember summary: unknown model {args.model!r}; available: {', '.join(models.list())}", file=sys.stderr)
        return 2
    try:
        kwargs = {key: ast.literal_eval(value) for key, value in (item.split("=", 1) for item in args.kwargs)}
    except (ValueError, SyntaxError) as err:
        print(f"ember summary: --kwargs expects KEY=VALUE pairs with Python literal values ({err})", file=sys.stderr)
        return 2
    try:
        models.build(args.model, **kwargs).summary(tuple(args.input_shape))
    except (TypeError, ValueError) as err:  # a constructor argument or an input shape the model refuses
        print(f"ember summary: {args.model} with --kwargs {' '.join(args.kwargs) or '(none)'} and --input-shape "
              f"{' '.join(map(str, args.input_shape))}: {err}", file=sys.stderr)
        return 2
    return 0
