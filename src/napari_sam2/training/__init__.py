"""Training: simulator, prompt simulation, losses, the training loop, evaluation."""
