"""``ember.apps``: small end-to-end applications behind the ``ember`` command (e.g. ``translate-dates``).

Each app is a module with a training recipe, evaluation, saving and loading, plus
``add_arguments(parser)`` and a ``main_*(args)`` entry point that the CLI calls.
"""
