"""``ember.apps``: small end-to-end applications behind the ``ember`` command (e.g. ``translate-dates``).

Each app is a module with a training recipe, evaluation, saving and loading, plus
``add_arguments(parser)`` and an entry point that the CLI calls with the parsed arguments.
Options are checked as they are parsed, by the argument types of ``ember.apps.arguments``.
"""
from ember.apps.arguments import non_negative_int, positive_float, positive_int


def add_recipe_arguments(parser, recipe: dict, samples: str) -> None:
    """The options every training app takes, their defaults read from its ``recipe``: --epochs,
    --batch-size, --lr (Adam), --train-size and --test-size (counted in ``samples``) and --seed."""
    parser.add_argument("--epochs", type=positive_int, default=recipe["epochs"],
                        help=f"training epochs (default {recipe['epochs']})")
    parser.add_argument("--batch-size", type=positive_int, default=recipe["batch_size"],
                        help=f"mini-batch size (default {recipe['batch_size']})")
    parser.add_argument("--lr", type=positive_float, default=recipe["lr"],
                        help=f"Adam learning rate (default {recipe['lr']})")
    parser.add_argument("--train-size", type=positive_int, default=recipe["train_size"],
                        help=f"training {samples} (default {recipe['train_size']})")
    parser.add_argument("--test-size", type=positive_int, default=recipe["test_size"],
                        help=f"held-out {samples} (default {recipe['test_size']})")
    parser.add_argument("--seed", type=non_negative_int, default=recipe["seed"],
                        help="seed of the data, initialisation, shuffling")
