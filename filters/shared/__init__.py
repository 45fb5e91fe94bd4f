"""What the filters share: the device, the surrogate classifiers, the strengths' budgets and
how to spend them, the platform profiles and their differentiable stand-ins, the transfer
attack, image quality measures, colour helpers and region masks.

Import from the modules themselves; this package imports nothing, so that the light ones
(``strengths``, ``platforms``) never load torch.
"""
