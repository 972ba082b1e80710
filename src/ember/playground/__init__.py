"""``ember playground``: a local web app to see what networks do, computed by ember on this machine.

Four pages served from ``http://127.0.0.1:8000/`` by a standard-library HTTP server (no web
framework, no build step, nothing fetched from the internet):

- the neural-network playground: 2-D data sets, a small MLP trained live in a server thread, its
  decision heat map, every neuron's output map and the train/test loss curves streamed as
  Server-Sent Events;
- the convolution explorer: an image and a kernel, the output and the receptive field of a hovered
  pixel; LeNet-5's feature maps and prediction for a digit drawn with the mouse;
- the embedding projector: word vectors in 2-D/3-D PCA, nearest neighbours, analogies a − b + c;
- the attention viewer: the date translator's output and attention heat map for a typed date.

>>> from ember.playground import make_server
>>> server = make_server(port=0)       # then server.serve_forever(); the page is at server.url
"""
from ember.playground.server import App, PlaygroundServer, add_arguments, make_server, run

__all__ = ["App", "PlaygroundServer", "add_arguments", "make_server", "run"]
