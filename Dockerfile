# One image recipe for every service:
#   docker build --build-arg PROJECT=src/Workers/AIaaS.Queue.Workers.csproj --build-arg ENTRY=AIaaS.Queue.Workers.dll .
# The distributed deployment runs src/Workers and src/ResultApi; src/Server (AIaaS.Queue.Server.dll) is the single-process
# one, the ResultApi with the workers inside.
# The .NET 10 images are Ubuntu 24.04, whose libstdc++ is new enough for TorchSharp: no compatibility runtime needed.
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
ARG PROJECT
WORKDIR /source
COPY . .
RUN dotnet publish "$PROJECT" -c Release -o /app
# Workers start train jobs in a child process: ship it in training/ next to them, where the launcher looks first
# (the Server hosts workers too).
RUN case "$PROJECT" in *Workers*|*Server*) dotnet publish src/Training/AIaaS.Queue.Training.csproj -c Release -o /app/training ;; esac

FROM mcr.microsoft.com/dotnet/aspnet:10.0
WORKDIR /app
COPY --from=build /app .
ARG ENTRY
ENV ENTRY=${ENTRY}
# glibc raises its mmap threshold to the size of each large block freed, after which model-sized blocks come from the heap
# and stay with the process once freed: a worker that unloaded 25 of 30 models of 20 MB (Workers__LoadedModelBudgetBytes
# 256 MiB) kept 741 MiB; with the threshold fixed at 128 KiB it fell to 391 MiB, what the 5 loaded ones hold.
ENV MALLOC_MMAP_THRESHOLD_=131072
ENTRYPOINT ["sh", "-c", "exec dotnet /app/$ENTRY"]
