"""Every plotly figure of NN Lab, one module per subject, sharing one look (``style.py``).

- ``training.py``: loss, accuracy and learning rate during a training, and runs compared;
- ``evaluation.py``: the confusion matrix, one image, the digit probabilities;
- ``inspection.py``: kernels, feature maps, dense activations, weight images and histograms, saliency;
- ``data.py``: the MNIST images, class balance, mean digits, pixel values;
- ``scratch.py``: the NumPy network's gradient norms and first-layer weights.

Figures are built from plain arrays and tables; no Streamlit here.
"""
