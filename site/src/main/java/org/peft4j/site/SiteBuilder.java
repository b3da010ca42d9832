package org.peft4j.site;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;
import org.commonmark.Extension;
import org.commonmark.ext.gfm.tables.TablesExtension;
import org.commonmark.ext.heading.anchor.HeadingAnchorExtension;
import org.commonmark.node.Link;
import org.commonmark.node.Node;
import org.commonmark.parser.Parser;
import org.commonmark.renderer.html.AttributeProvider;
import org.commonmark.renderer.html.HtmlRenderer;

/**
 * Builds the documentation site: renders the guides (Markdown) to HTML pages that share a menu,
 * copies their images, turns the benchmark's {@code results.md} and {@code results.json} into a page
 * with bar charts (SVG), and links the Javadoc that the build writes to {@code apidocs/}.
 *
 * <p>Arguments: the guides directory, the benchmarks directory, the output directory, and the footer
 * (HTML) of every page. Code blocks are highlighted in the browser by highlight.js, which the build
 * copies into {@code highlight/} from its WebJar.
 */
public final class SiteBuilder {
    /** The pages in menu order: file name (without .md) and menu title. */
    static final List<String[]> PAGES = List.of(
            new String[] {"index", "Overview"},
            new String[] {"install", "Install"},
            new String[] {"methods", "LoRA, prefix and prompt"},
            new String[] {"djl", "DJL quick start"},
            new String[] {"language-models", "Language models"},
            new String[] {"tribuo", "Tribuo quick start"},
            new String[] {"spark", "Training on Spark"},
            new String[] {"cli", "The peft4j command"},
            new String[] {"format", "Adapter files and Python"},
            new String[] {"algebra", "Merging and extracting"},
            new String[] {"benchmark", "Benchmark"});

    private final List<Extension> extensions = List.of(TablesExtension.create(), HeadingAnchorExtension.create());
    private final Parser parser = Parser.builder().extensions(extensions).build();
    private final HtmlRenderer renderer = HtmlRenderer.builder().extensions(extensions)
            .attributeProviderFactory(context -> new MarkdownLinks()).build();

    /** Rewrites links between guides from {@code page.md} to {@code page.html}. */
    private static final class MarkdownLinks implements AttributeProvider {
        @Override
        public void setAttributes(Node node, String tagName, java.util.Map<String, String> attributes) {
            if (node instanceof Link) {
                String href = attributes.get("href");
                if (href != null && !href.contains("://") && href.matches("[^#]*\\.md(#.*)?")) {
                    attributes.put("href", href.replaceFirst("\\.md(#|$)", ".html$1"));
                }
            }
        }
    }

    private final String footer;

    /** A builder whose pages end with {@code footerHtml}. */
    SiteBuilder(String footerHtml) {
        this.footer = footerHtml;
    }

    /**
     * Builds the site from the guides in {@code args[0]} and the benchmark in {@code args[1]} into
     * {@code args[2]}, with the footer {@code args[3]} on every page.
     */
    public static void main(String[] args) throws IOException {
        if (args.length != 4) {
            throw new IllegalArgumentException("usage: SiteBuilder GUIDES_DIR BENCHMARKS_DIR OUTPUT_DIR FOOTER_HTML");
        }
        new SiteBuilder(args[3]).build(Path.of(args[0]), Path.of(args[1]), Path.of(args[2]));
    }

    void build(Path guides, Path benchmarks, Path out) throws IOException {
        dropMissingFontImport(out.resolve("apidocs"));
        anchorConstantGroups(out.resolve("apidocs").resolve("constant-values.html"));
        Files.createDirectories(out.resolve("images"));
        try (Stream<Path> images = Files.list(guides.resolve("images"))) {
            for (Path image : (Iterable<Path>) images::iterator) {
                Files.copy(image, out.resolve("images").resolve(image.getFileName()), StandardCopyOption.REPLACE_EXISTING);
            }
        }
        JsonNode results = new ObjectMapper().readTree(benchmarks.resolve("results.json").toFile());
        Charts.write(results, out.resolve("images"));
        for (String[] page : PAGES) {
            String markdown = Files.readString(guides.resolve(page[0] + ".md"), StandardCharsets.UTF_8);
            if (page[0].equals("benchmark")) {
                markdown = markdown.replace("{{results}}", Files.readString(benchmarks.resolve("results.md"))
                        .replaceFirst("(?s)^# [^\\n]*\\n", ""));
            }
            Files.writeString(out.resolve(page[0] + ".html"), page(page, renderer.render(parser.parse(markdown))),
                    StandardCharsets.UTF_8);
        }
    }

    /**
     * Debian's OpenJDK 17 ships javadoc without its DejaVu web fonts, yet the stylesheet it writes
     * still imports them; the import is dropped when the file is missing, so pages fall back to the
     * system's sans-serif font instead of requesting a file that does not exist.
     */
    private static void dropMissingFontImport(Path apidocs) throws IOException {
        Path stylesheet = apidocs.resolve("stylesheet.css");
        String fontCss = "resources/fonts/dejavu.css";
        if (Files.exists(stylesheet) && !Files.exists(apidocs.resolve(fontCss))) {
            String css = Files.readString(stylesheet, StandardCharsets.UTF_8);
            Files.writeString(stylesheet, css.replace("@import url('" + fontCss + "');", ""), StandardCharsets.UTF_8);
        }
    }

    /**
     * JDK 17's javadoc lists the package groups of its Constant Field Values page as links to
     * {@code #org.peft4j} but gives the headings only a title, no id; the id is added so the links
     * land on their heading.
     */
    private static void anchorConstantGroups(Path constants) throws IOException {
        if (Files.exists(constants)) {
            String html = Files.readString(constants, StandardCharsets.UTF_8);
            Files.writeString(constants, html.replaceAll("<h2 title=\"([^\"]+)\">", "<h2 id=\"$1\" title=\"$1\">"),
                    StandardCharsets.UTF_8);
        }
    }

    private String page(String[] current, String body) {
        StringBuilder menu = new StringBuilder();
        for (String[] p : PAGES) {
            menu.append(String.format(Locale.ROOT, "<li><a href=\"%s.html\"%s>%s</a></li>", p[0],
                    p == current ? " class=\"current\"" : "", p[1]));
        }
        menu.append("<li><a href=\"apidocs/index.html\">API (Javadoc)</a></li>");
        return "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                + "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                + "<title>peft4j: " + current[1] + "</title>"
                + "<link rel=\"stylesheet\" href=\"highlight/github.min.css\"><style>" + STYLE + "</style></head>"
                + "<body class=\"guide\"><nav><a class=\"brand\" href=\"index.html\">peft4j</a><ul>" + menu + "</ul></nav>"
                + "<div class=\"page\"><main>" + body + "</main><footer>" + footer + "</footer></div>"
                + "<script src=\"highlight/highlight.min.js\"></script>"
                + "<script>document.querySelectorAll('pre code[class*=\"language-\"]')"
                + ".forEach(function (block) { hljs.highlightElement(block); });</script></body></html>\n";
    }

    /**
     * The sidebar has a fixed width, so it does not change from page to page; the column beside it
     * may shrink below its content ({@code min-width:0}), so a long code line or a wide table
     * scrolls inside its block instead of widening the page.
     */
    private static final String STYLE = String.join("",
            "body{margin:0;font:16px/1.55 system-ui,sans-serif;color:#1d2430;display:flex;min-height:100vh}",
            "nav{flex:0 0 15rem;width:15rem;box-sizing:border-box;background:#f3f5f8;padding:1.2rem}",
            "nav ul{list-style:none;padding:0}nav li{margin:.35rem 0}nav a{color:#1d4ed8;text-decoration:none}",
            "nav a.current{font-weight:600;color:#1d2430}.brand{font-size:1.4rem;font-weight:700}",
            ".page{flex:1 1 auto;min-width:0;display:flex;flex-direction:column}",
            "main{max-width:52rem;padding:1.5rem 2.5rem;box-sizing:border-box}",
            "footer{margin-top:auto;padding:1rem 2.5rem;color:#57606a;font-size:.9rem;border-top:1px solid #d0d7de}",
            "pre{background:#f6f8fa;padding:.8rem;overflow-x:auto}pre code.hljs{background:none;padding:0;overflow:visible}",
            "code{font-family:ui-monospace,monospace;font-size:.9em}table{border-collapse:collapse;margin:1rem 0}",
            "table{display:block;max-width:100%;overflow-x:auto}",
            "td,th{border:1px solid #d0d7de;padding:.3rem .6rem}td code{white-space:nowrap}img{max-width:100%}",
            "@media (max-width:48rem){body{display:block}nav{width:auto}}");
}
