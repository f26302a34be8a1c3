"""The n-dimensional Rosenbrock function, a sum over a 1-D array of any length.

Source: H. H. Rosenbrock, "An automatic method for finding the greatest or least value of
a function", The Computer Journal 3(3), 175-184 (1960); the n-dimensional form
f(x) = sum_{i<n-1} 100 (x[i+1] - x[i]^2)^2 + (1 - x[i])^2 as in J. Nocedal & S. J. Wright,
"Numerical Optimization", 2nd ed. (Springer, 2006), eq. (2.22) (and the minimum f = 0 at
x = (1, ..., 1)).

The function takes one 1-D array; its length comes from the command line:

    jacli jacobian samples/rosenbrock_nd.py --inputs 5 --at 'x[0]=-1.2'
    jacli hessian samples/rosenbrock_nd.py --inputs 4 --at 'x[0]=1,x[1]=1,x[2]=1,x[3]=1'

With --inputs N and no values, the nominal point is x = 0 (--at sets entries).
"""
from array_api_compat import array_namespace


def f(x):
    xp = array_namespace(x)
    return xp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)
