"""A tiny multilayer perceptron on the XOR problem: the mean squared error as a function
of its weights (array-valued inputs W1[i,j], b1[i], w2[i], b2).

Sources:
  * XOR and back-propagation: D. E. Rumelhart, G. E. Hinton & R. J. Williams, "Learning
    representations by back-propagating errors", Nature 323, 533-536 (1986);
  * the network and loss: I. Goodfellow, Y. Bengio & A. Courville, "Deep Learning" (MIT
    Press, 2016), Sec. 6.1 (learning XOR with one hidden layer) and Sec. 6.5 (back-propagation):
    h = tanh(W1 x + b1), y = w2 . h + b2, loss = (1/(2n)) sum (y - t)^2.

The gradient of the loss with respect to the weights is what back-propagation computes:
dL/dw2 = (1/n) sum r h,  dL/db2 = (1/n) sum r,  dL/db1 = (1/n) sum r w2 (1 - h^2),
dL/dW1 = (1/n) sum r w2 (1 - h^2) x^T, with r = y - t.  The weights are arrays; jacli names
their entries W1[0,1] etc., and --format json reshapes the gradient back ("blocks").

    jacli jacobian samples/mlp.py --format json | jq .blocks.loss.W1
"""
from array_api_compat import array_namespace

NAME = "XOR multilayer perceptron"
# The four XOR patterns and their targets.
X = [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]
T = [0.0, 1.0, 1.0, 0.0]
# Weights of a 2-3-1 network (a fixed, arbitrary starting point).
INPUTS = {
    "W1": [[0.5, -0.4], [0.3, 0.8], [-0.6, 0.2]],
    "b1": [0.1, -0.1, 0.05],
    "w2": [0.7, -0.5, 0.3],
    "b2": 0.0,
}
OUTPUTS = ["loss"]


def f(W1, b1, w2, b2):
    xp = array_namespace(W1)
    x = xp.asarray(X, dtype=W1.dtype)
    t = xp.asarray(T, dtype=W1.dtype)
    h = xp.tanh(x @ W1.T + b1)          # (4, 3)
    y = h @ w2 + b2                      # (4,)
    r = y - t
    return xp.sum(r * r) / (2 * len(T))
