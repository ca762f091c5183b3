"""``flaxprec audit``: run a Flax model abstractly and report what precision it really computes in.

This package is the only place where flaxprec imports jax and flax, and it does so lazily, inside the
functions that need them: importing ``flaxprec.audit`` (or the click command) must stay as cheap as
``flaxprec check``, which never imports them.
"""
