"""Looking inside a trained network, step by step, for teaching.

- ``layers.py``: every layer's input and output for one image, and a layer's output for many;
- ``neuron.py``: how one number of a layer's output was made, in NumPy, from the layer's weights;
- ``diagram.py``: the network as blocks (kind, output shape, parameters) from a spec or a model;
- ``embedding.py``: a hidden layer's activations for 2,000 test images mapped to 2-D (PCA, t-SNE);
- ``adversarial.py``: fooling the network with the fast gradient sign method.

The numbers here come from the trained model's own weights; the tests check them against Keras.
"""
