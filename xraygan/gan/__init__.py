"""GAN training (DCGAN per class, class-conditional), run folders, export of synthetic images, figures."""
