"""Damped pendulum, integrated with classical fourth-order Runge-Kutta steps.

Sources:
  * the model: theta'' = -(g/L) sin(theta) - c theta', a pendulum of length L with linear
    (viscous) damping c — e.g. S. H. Strogatz, "Nonlinear Dynamics and Chaos", 2nd ed.
    (Westview, 2015), Sec. 6.7 (the pendulum) and Example 6.7.2 (with damping);
  * the integrator: the classical Runge-Kutta method (W. Kutta, 1901), as in E. Hairer,
    S. P. Norsett & G. Wanner, "Solving Ordinary Differential Equations I" (Springer, 1993),
    Sec. II.1, Table 1.2 (the "3/8"-free classical tableau 0, 1/2, 1/2, 1; weights 1/6, 2/6, 2/6, 1/6).

The Jacobian of the state after STEPS steps with respect to the initial state (theta0,
omega0) is the discrete flow's sensitivity matrix (the "monodromy" of the numerical map);
with --wrt theta0,omega0,c also its sensitivity to the damping.  The code is a loop — not
a formula — written with plain operators and xp.sin, so the same function runs under
NumPy (fd, complex), JAX and PyTorch, and traces into exact expressions for --backend sympy.

    jacli jacobian samples/pendulum_rk4.py --wrt theta0,omega0,c
"""
from array_api_compat import array_namespace

NAME = "damped pendulum, RK4"
INPUTS = {"theta0": 1.0, "omega0": 0.0}        # rad, rad/s
PARAMETERS = {"c": 0.2, "g": 9.81, "L": 1.0}    # 1/s, m/s^2, m
OUTPUTS = ["theta", "omega"]
STEPS = 50
DT = 0.02                                        # s: 50 steps = 1 s


def rhs(theta, omega, c, g, L, xp):
    return omega, -(g / L) * xp.sin(theta) - c * omega


def f(theta0, omega0, c, g, L):
    xp = array_namespace(theta0)
    th, om = theta0, omega0
    h = DT
    for _ in range(STEPS):
        k1t, k1o = rhs(th, om, c, g, L, xp)
        k2t, k2o = rhs(th + 0.5 * h * k1t, om + 0.5 * h * k1o, c, g, L, xp)
        k3t, k3o = rhs(th + 0.5 * h * k2t, om + 0.5 * h * k2o, c, g, L, xp)
        k4t, k4o = rhs(th + h * k3t, om + h * k3o, c, g, L, xp)
        th = th + h / 6 * (k1t + 2 * k2t + 2 * k3t + k4t)
        om = om + h / 6 * (k1o + 2 * k2o + 2 * k3o + k4o)
    return [th, om]
