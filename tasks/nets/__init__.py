"""Recurrent network code every flow shares: cells, model builders, seeded training, gradients.

No domain here: sizes come from the arrays handed in, choices from :mod:`tasks.nets.config`.
"""
