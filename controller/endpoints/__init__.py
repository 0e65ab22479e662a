"""The endpoints controller: for each Service with a selector, an Endpoints object of the same name
listing the ready and not-ready addresses of the pods it selects, with each port resolved per pod.

Watches Services, Pods, Endpoints; writes Endpoints and Events. Services without a selector are
left alone (their Endpoints are the user's); an Endpoints object whose Service is gone is deleted.
Pure core: `reconcile.py`; shell: `controller.py`.
"""
from controller.endpoints.controller import EndpointsController, make

__all__ = ["EndpointsController", "make"]
