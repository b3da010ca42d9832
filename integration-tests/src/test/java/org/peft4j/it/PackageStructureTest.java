package org.peft4j.it;

import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import org.junit.jupiter.api.Test;

/**
 * The arrows between packages, read by ArchUnit from the compiled classes of every module: no two
 * packages depend on each other, directly or around a loop, so methods ({@code lora}, {@code prompt},
 * {@code prefix}) and model families ({@code bert}) point at the core and the core at none of them,
 * and Tribuo's facade ({@code TribuoPeft}) points at its trainers, never the reverse.
 */
class PackageStructureTest {
    private static final JavaClasses CLASSES = new ClassFileImporter()
            .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
            .importPackages("org.peft4j.api", "org.peft4j.djl", "org.peft4j.tribuo", "org.peft4j.cli");

    @Test
    void noPackageCycles() {
        slices().matching("org.(**)").should().beFreeOfCycles().check(CLASSES);
    }
}
