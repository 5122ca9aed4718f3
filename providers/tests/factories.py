import factory

from providers.models import Provider


class ProviderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Provider

    name = factory.Sequence(lambda n: f"Provider {n}")
    api_url = "https://provider.example/api/v2"
    api_key = factory.Sequence(lambda n: f"provider-secret-key-{n:04d}-abcdefghijklmnop")
