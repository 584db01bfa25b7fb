"""Training the neural painter: generator, discriminator and GAN stages."""
