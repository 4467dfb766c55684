"""Training: the paper's recipe (random prompts, losses, sequences), the loop, fine-tuning on users'
stacks, and its command line (train, finetune, evaluate). Data come from ``simulation``; scores
from ``evaluation``."""
