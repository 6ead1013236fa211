"""The worker's confinement, a module per mechanism, applied in ``confine.confine``'s order.

Public surface: ``confine.confine``, ``confine.namespaces_available`` and ``isolation.Isolation``
(the policy as plain values).
"""
