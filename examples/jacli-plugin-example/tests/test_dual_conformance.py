"""The plug-in's conformance tests: jacli's whole suite, one line of configuration.

pytest collects one test per check and scenario that the backend's declared
capabilities make applicable (exact=True: 1e-12 relative; forward=True: stacked jvps
equal the Jacobian; no second_order: Hessians must be refused).
"""
import jacli.testing


class TestDual(jacli.testing.BackendConformance):
    backend = "dual"        # found through the entry point, as users will find it
    # {(check, scenario): reason} for what the method genuinely cannot do; none here.
    known_failures: dict = {}
