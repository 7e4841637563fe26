# Container build for platforms that deploy images (heroku.yml, Fly, Render, Cloud Run, ...).
# The payload is embedded in the binary, so the runtime image needs nothing else.
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin dynobench

FROM debian:bookworm-slim
COPY --from=build /src/target/release/dynobench /usr/local/bin/dynobench
ENV PORT=5000
EXPOSE 5000
CMD ["dynobench", "serve"]
