"""Sensitivity analysis on top of the derivative operators.

* :func:`local_sensitivity` — partial derivatives, elasticities and σ-scaled sensitivities
  at one point (:mod:`jacli.sensitivity.local`);
* :func:`propagate` — first-order (GUM) propagation of uncertainty with correlations, the
  uncertainty budget, optional second-order terms and a Monte Carlo check
  (:mod:`jacli.sensitivity.propagation`);
* :func:`sobol_indices`, :func:`morris`, :func:`dgsm` — global sensitivity over the inputs'
  distributions (:mod:`jacli.sensitivity.variance`).

Every function returns a frozen dataclass with ``to_dict()``.
"""
from __future__ import annotations

from .local import LocalSensitivity as LocalSensitivity
from .local import OutputLocal as OutputLocal
from .local import local_sensitivity as local_sensitivity
from .propagation import BudgetEntry as BudgetEntry
from .propagation import InputUncertainty as InputUncertainty
from .propagation import MonteCarloCheck as MonteCarloCheck
from .propagation import OutputUncertainty as OutputUncertainty
from .propagation import Propagation as Propagation
from .propagation import SecondOrder as SecondOrder
from .propagation import correlation_matrix as correlation_matrix
from .propagation import coverage_factor as coverage_factor
from .propagation import monte_carlo as monte_carlo
from .propagation import propagate as propagate
from .propagation import standard_uncertainties as standard_uncertainties
from .variance import DGSMResult as DGSMResult
from .variance import MorrisResult as MorrisResult
from .variance import SobolResult as SobolResult
from .variance import dgsm as dgsm
from .variance import morris as morris
from .variance import sobol_indices as sobol_indices

#: The methods ``jacli sensitivity --method`` offers, in the order shown by ``--help``.
METHODS = ("local", "gum", "sobol", "morris", "dgsm")

__all__ = ["METHODS", "BudgetEntry", "DGSMResult", "InputUncertainty", "LocalSensitivity",
           "MonteCarloCheck", "MorrisResult", "OutputLocal", "OutputUncertainty", "Propagation",
           "SecondOrder", "SobolResult", "correlation_matrix", "coverage_factor", "dgsm",
           "local_sensitivity", "monte_carlo", "morris", "propagate", "sobol_indices",
           "standard_uncertainties"]
