"""The course's sine study: each cell on a sine wave, one step ahead, a generated continuation, gradient flow."""
