# One image recipe for both services: docker build --build-arg PROJECT=src/Workers/AIaaS.Queue.Workers.csproj .
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
ARG PROJECT
WORKDIR /source
COPY . .
RUN dotnet publish "$PROJECT" -c Release -o /app

FROM mcr.microsoft.com/dotnet/aspnet:10.0
WORKDIR /app
COPY --from=build /app .
ARG ENTRY
ENV ENTRY=${ENTRY}
ENTRYPOINT ["sh", "-c", "exec dotnet /app/$ENTRY"]
