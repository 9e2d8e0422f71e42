"""The lesson: long-memory tasks on which vanishing gradients cost the simple RNN the answer."""
