"""How the simulator's seeds are shared out: training draws seeds below ``TRAINING_SEEDS``,
evaluation takes seeds from ``EVALUATION_SEEDS`` on, so no evaluation sequence was seen in
training."""

TRAINING_SEEDS = 2**30  # training draws simulator seeds below this ...
EVALUATION_SEEDS = TRAINING_SEEDS  # ... evaluation uses seeds from here on
