"""Networks: the neural painter, the discriminator and the perceptual feature extractor."""
