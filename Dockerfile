# syntax=docker/dockerfile:1
# CartRecovery worker image. Build from the repository root:
#   docker build -t cartrecovery:latest .
# The image has no embedded chDB library: production workers write to a ClickHouse server
# (CARTRECOVERY_CLICKHOUSE_URL) and checkpoint to PostgreSQL (CARTRECOVERY_CHECKPOINT_POSTGRES); see k8s/README.md.

FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
COPY global.json Directory.Build.props Directory.Packages.props ./
COPY src/ src/
RUN dotnet publish src/CartRecovery.Host/CartRecovery.Host.csproj -c Release -o /app

# The host uses the ASP.NET Core shared framework (/healthz, /readyz, /metrics), hence the aspnet runtime image.
FROM mcr.microsoft.com/dotnet/aspnet:10.0 AS runtime
WORKDIR /app
# The worker binds its own port (--http-port); drop the image's default ASP.NET Core port 8080.
ENV ASPNETCORE_HTTP_PORTS= \
    DOTNET_NOLOGO=1
COPY --from=build /app ./
# Non-root: the 'app' user (UID 1654) that the .NET images ship; the Kubernetes manifests run as the same UID.
USER $APP_UID
ENTRYPOINT ["dotnet", "/app/cartrecovery.dll"]
CMD ["worker", "--help"]
