"""NN Lab: train, inspect and play with neural networks on MNIST.

The package holds every piece of model logic (data, architectures, training, runs, evaluation,
inspection, preprocessing); the Streamlit pages in ``app.py`` and ``pages/`` are thin views over it.
TensorFlow is imported lazily so that light modules (data, architectures' validation and summary)
start fast.
"""

__version__ = "0.1.0"
